/** In-memory stand-ins for the API server in DRA tests (dra-apiserver.test.ts uses the real one). */
import type { AllocationResult, ClaimReader, ResourceClaimView } from '../plugins/framework/dra/driver';
import type { SliceApi, SliceObject } from '../plugins/framework/dra/slices';

/** ResourceClaims by namespace/name, as `readNamespacedResourceClaim` returns them; counts reads. */
export class ClaimStore implements ClaimReader {
  readonly claims = new Map<string, ResourceClaimView>();
  reads = 0;
  async read(namespace: string, name: string) {
    this.reads += 1;
    return this.claims.get(`${namespace}/${name}`);
  }
  add(namespace: string, name: string, uid: string, results?: AllocationResult[]) {
    this.claims.set(`${namespace}/${name}`, {
      metadata: { namespace, name, uid },
      status: results ? { allocation: { devices: { results } } } : {},
    });
    return { namespace, name, uid };
  }
}

/** `result(device, request, extra)`: an allocation result for one driver and pool. */
export const allocationResult =
  (driver: string, pool: string) =>
  (device: string, request: string, extra: Partial<AllocationResult> = {}): AllocationResult => ({
    driver,
    pool,
    device,
    request,
    ...extra,
  });

/** ResourceSlices in memory, with resourceVersion conflicts; `failures` are thrown by the next calls. */
export class MemoryApi implements SliceApi {
  slices = new Map<string, SliceObject>();
  /** Errors to throw from the next calls, in order. */
  failures: Error[] = [];
  writes = 0;
  private n = 0;
  private maybeFail() {
    const err = this.failures.shift();
    if (err) throw err;
  }
  async nodeUid() {
    this.maybeFail();
    return 'node-uid';
  }
  async list() {
    this.maybeFail();
    return [...this.slices.values()].map((s) => structuredClone(s));
  }
  async create(_d: string, _n: string, _u: string, slice: Omit<SliceObject, 'name'>) {
    this.maybeFail();
    this.writes += 1;
    const name = `s${++this.n}`;
    this.slices.set(name, { ...structuredClone(slice), name, resourceVersion: '1' });
  }
  async replace(_d: string, _n: string, _u: string, slice: SliceObject) {
    this.maybeFail();
    if (this.slices.get(slice.name)?.resourceVersion !== slice.resourceVersion)
      throw Object.assign(new Error('conflict'), {
        code: 409,
        body: '{"message":"the object has been modified"}',
      });
    this.writes += 1;
    this.slices.set(slice.name, {
      ...structuredClone(slice),
      resourceVersion: String(Number(slice.resourceVersion) + 1),
    });
  }
  async delete(name: string) {
    this.maybeFail();
    this.slices.delete(name);
  }
}
