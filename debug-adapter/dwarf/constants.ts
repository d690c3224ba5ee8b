/**
 * The DWARF 2-5 constants (and GNU extensions gcc and clang emit) that the
 * readers in this directory use, named as in the DWARF 5 standard's
 * section 7 tables so code reads like the spec (DW_TAG.lexical_block).
 */

export const DW_TAG = {
  array_type: 0x01, class_type: 0x02, enumeration_type: 0x04, formal_parameter: 0x05,
  lexical_block: 0x0b, member: 0x0d, pointer_type: 0x0f, reference_type: 0x10,
  compile_unit: 0x11, structure_type: 0x13, subroutine_type: 0x15, typedef: 0x16,
  union_type: 0x17, unspecified_parameters: 0x18, variant: 0x19, inlined_subroutine: 0x1d,
  ptr_to_member_type: 0x1f, subrange_type: 0x21, base_type: 0x24, const_type: 0x26,
  enumerator: 0x28, subprogram: 0x2e, variable: 0x34, volatile_type: 0x35,
  restrict_type: 0x37, namespace: 0x39, unspecified_type: 0x3b, partial_unit: 0x3c,
  rvalue_reference_type: 0x42, type_unit: 0x41, atomic_type: 0x47, call_site: 0x48,
  skeleton_unit: 0x4a, GNU_call_site: 0x4109,
} as const;

export const DW_AT = {
  sibling: 0x01, location: 0x02, name: 0x03, byte_size: 0x0b, stmt_list: 0x10,
  low_pc: 0x11, high_pc: 0x12, language: 0x13, comp_dir: 0x1b, const_value: 0x1c,
  inline: 0x20, producer: 0x25, prototyped: 0x27, lower_bound: 0x22, count: 0x37,
  upper_bound: 0x2f, abstract_origin: 0x31, bit_offset: 0x0c, bit_size: 0x0d,
  data_member_location: 0x38, decl_file: 0x3a, decl_line: 0x3b, declaration: 0x3c,
  encoding: 0x3e, external: 0x3f, frame_base: 0x40, specification: 0x47, type: 0x49,
  ranges: 0x55, data_bit_offset: 0x6b, linkage_name: 0x6e, call_column: 0x57,
  call_file: 0x58, call_line: 0x59, entry_pc: 0x52, str_offsets_base: 0x72,
  addr_base: 0x73, rnglists_base: 0x74, loclists_base: 0x8c, MIPS_linkage_name: 0x2007,
  GNU_ranges_base: 0x2132, GNU_addr_base: 0x2133,
} as const;

/** Base type encodings (DW_AT_encoding). */
export const DW_ATE = {
  address: 0x01, boolean: 0x02, complex_float: 0x03, float: 0x04, signed: 0x05,
  signed_char: 0x06, unsigned: 0x07, unsigned_char: 0x08, imaginary_float: 0x09,
  signed_fixed: 0x0d, unsigned_fixed: 0x0e, decimal_float: 0x0f, UTF: 0x10, UCS: 0x11, ASCII: 0x12,
} as const;

export const DW_UT = {
  compile: 0x01, type: 0x02, partial: 0x03, skeleton: 0x04, split_compile: 0x05, split_type: 0x06,
} as const;

export const DW_OP = {
  addr: 0x03, deref: 0x06, const1u: 0x08, const1s: 0x09, const2u: 0x0a, const2s: 0x0b,
  const4u: 0x0c, const4s: 0x0d, const8u: 0x0e, const8s: 0x0f, constu: 0x10, consts: 0x11,
  dup: 0x12, drop: 0x13, over: 0x14, pick: 0x15, swap: 0x16, rot: 0x17, xderef: 0x18,
  abs: 0x19, and: 0x1a, div: 0x1b, minus: 0x1c, mod: 0x1d, mul: 0x1e, neg: 0x1f, not: 0x20,
  or: 0x21, plus: 0x22, plus_uconst: 0x23, shl: 0x24, shr: 0x25, shra: 0x26, xor: 0x27,
  bra: 0x28, eq: 0x29, ge: 0x2a, gt: 0x2b, le: 0x2c, lt: 0x2d, ne: 0x2e, skip: 0x2f,
  lit0: 0x30, lit31: 0x4f, reg0: 0x50, reg31: 0x6f, breg0: 0x70, breg31: 0x8f,
  regx: 0x90, fbreg: 0x91, bregx: 0x92, piece: 0x93, deref_size: 0x94, xderef_size: 0x95,
  nop: 0x96, push_object_address: 0x97, call2: 0x98, call4: 0x99, call_ref: 0x9a,
  form_tls_address: 0x9b, call_frame_cfa: 0x9c, bit_piece: 0x9d, implicit_value: 0x9e,
  stack_value: 0x9f, implicit_pointer: 0xa0, addrx: 0xa1, constx: 0xa2, entry_value: 0xa3,
  const_type: 0xa4, regval_type: 0xa5, deref_type: 0xa6, xderef_type: 0xa7, convert: 0xa8,
  reinterpret: 0xa9, GNU_push_tls_address: 0xe0, GNU_uninit: 0xf0, GNU_implicit_pointer: 0xf2,
  GNU_entry_value: 0xf3, GNU_const_type: 0xf4, GNU_regval_type: 0xf5, GNU_deref_type: 0xf6,
  GNU_convert: 0xf7, GNU_reinterpret: 0xf9, GNU_parameter_ref: 0xfa, GNU_addr_index: 0xfb,
  GNU_const_index: 0xfc, GNU_variable_value: 0xfd,
} as const;

/** .debug_loclists entry kinds (DWARF 5). */
export const DW_LLE = {
  end_of_list: 0x00, base_addressx: 0x01, startx_endx: 0x02, startx_length: 0x03,
  offset_pair: 0x04, default_location: 0x05, base_address: 0x06, start_end: 0x07, start_length: 0x08,
} as const;

/** .debug_rnglists entry kinds (DWARF 5). */
export const DW_RLE = {
  end_of_list: 0x00, base_addressx: 0x01, startx_endx: 0x02, startx_length: 0x03,
  offset_pair: 0x04, base_address: 0x05, start_end: 0x06, start_length: 0x07,
} as const;
