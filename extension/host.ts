/** Host checks the extension makes before starting a VM (same sentences as the CLI). */
export { kvmProblem } from '../vmm/host/kvm-host';
