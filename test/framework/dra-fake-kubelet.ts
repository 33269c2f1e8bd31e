/** The DRA kubelet side for tests: see simulator/dra-kubelet.ts. */
export * from '../../simulator/dra-kubelet';
