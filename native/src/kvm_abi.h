// C-layout mirrors of the <linux/kvm.h> structs that end in a flexible array.
// Linux 6.1's uapi headers declare those with __DECLARE_FLEX_ARRAY, whose
// empty struct has size 1 in C++ (0 in C): in C++ sizeof(kvm_msrs) is 12, not
// 8, and so are the ioctl numbers that encode the size (KVM answers them with
// EINVAL) and the offset of the array. We use these headers instead; the
// entries follow them directly, as in C.
#pragma once
#include <linux/kvm.h>
#include <sys/ioctl.h>

namespace kvmdbg::abi {

struct MsrListHeader { __u32 nmsrs; };                // kvm_msr_list
struct MsrsHeader { __u32 nmsrs; __u32 pad; };        // kvm_msrs
struct Cpuid2Header { __u32 nent; __u32 padding; };   // kvm_cpuid2
struct Xsave { __u32 region[1024]; };                 // kvm_xsave

static_assert(sizeof(MsrListHeader) == 4 && sizeof(MsrsHeader) == 8 && sizeof(Cpuid2Header) == 8);
static_assert(sizeof(Xsave) == 4096 && sizeof(kvm_msr_entry) == 16 && sizeof(kvm_cpuid_entry2) == 40);

constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Header);
constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, Cpuid2Header);
constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, Xsave);
constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, Xsave);
constexpr unsigned long kGetXsave2 = _IOR(KVMIO, 0xcf, Xsave);
constexpr int kCapXsave2 = 208;

// The values a C compiler computes from <linux/kvm.h>.
static_assert(kGetMsrIndexList == 0xc004ae02UL && kGetSupportedCpuid == 0xc008ae05UL);
static_assert(kGetMsrs == 0xc008ae88UL && kSetMsrs == 0x4008ae89UL && kSetCpuid2 == 0x4008ae90UL);
static_assert(kGetXsave == 0x9000aea4UL && kSetXsave == 0x5000aea5UL && kGetXsave2 == 0x9000aecfUL);

}  // namespace kvmdbg::abi
