/**
 * A small proto3 codec for the kubelet APIs. The messages are few and flat, so a table per message
 * (mirroring proto/*.proto, which a test checks field by field) replaces a runtime .proto parser:
 * that saves ~70 ms of start-up and ~8 MB of memory in every plugin process.
 */

export type Scalar = 'string' | 'bool' | 'int32' | 'int64' | 'uint64';

/** A proto3 enum: on the wire an int32; decoded objects carry the number. */
export interface EnumType {
  name: string;
  values: Record<string, number>;
}

export interface Field {
  no: number;
  /** The .proto field name; the decoded object uses it as is (e.g. `resource_name`, `ID`). */
  name: string;
  type: Scalar | 'map' | MessageType | EnumType;
  repeated?: boolean;
  /** proto3 `optional`: sent whenever set, even to its default; absent when decoded without it. */
  optional?: boolean;
  /** For `map`: the value message of `map<string, Message>`; without it the map is `map<string,string>`. */
  mapValue?: MessageType;
}

export interface MessageType {
  /** Fully-qualified name, e.g. `v1beta1.RegisterRequest`. */
  name: string;
  fields: Field[];
}

export function isMessage(type: Field['type']): type is MessageType {
  return typeof type === 'object' && 'fields' in type;
}

// Wire types.
const VARINT = 0;
const FIXED64 = 1;
const BYTES = 2;
const FIXED32 = 5;

export const MAP_ENTRY: MessageType = {
  name: 'map<string,string>',
  fields: [
    { no: 1, name: 'key', type: 'string' },
    { no: 2, name: 'value', type: 'string' },
  ],
};

const mapEntries = new WeakMap<MessageType, MessageType>();

/** The synthetic entry message of a map field (`key` = 1, `value` = 2), as protobuf defines maps. */
function mapEntryOf(field: Field): MessageType {
  const value = field.mapValue;
  if (!value) return MAP_ENTRY;
  let entry = mapEntries.get(value);
  if (!entry) {
    entry = {
      name: `map<string,${value.name}>`,
      fields: [
        { no: 1, name: 'key', type: 'string' },
        { no: 2, name: 'value', type: value },
      ],
    };
    mapEntries.set(value, entry);
  }
  return entry;
}

// ---- encoding ------------------------------------------------------------------------------

class Writer {
  private chunks: Buffer[] = [];
  /** Varint bytes (tags, lengths, numbers) not yet in `chunks`: one Buffer per run of them, not per varint. */
  private pending: number[] = [];

  varint(value: number | bigint): void {
    // Tags, lengths and most numbers: small non-negative integers, encoded without BigInt (this is on every
    // Allocate's path, and V8 runs interpreted here: see NODE_RUNTIME_FLAGS).
    if (typeof value === 'number' && value >= 0 && value <= 0x7fffffff) {
      let v = value;
      while (v >= 0x80) {
        this.pending.push((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      this.pending.push(v);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.pending.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.pending.push(Number(v));
  }

  tag(no: number, wireType: number): void {
    this.varint((no << 3) | wireType);
  }

  bytes(data: Buffer): void {
    this.varint(data.length);
    this.flush();
    this.chunks.push(data);
  }

  finish(): Buffer {
    this.flush();
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.chunks.push(Buffer.from(this.pending));
    this.pending = [];
  }
}

function isDefault(type: Field['type'], value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (isMessage(type)) return false;
  if (typeof type !== 'string') return Number(value) === 0; // enum
  if (type === 'string') return value === '';
  if (type === 'bool') return value === false;
  if (type === 'map') return Object.keys(value as object).length === 0;
  return Number(value) === 0;
}

function writeValue(w: Writer, field: Field, value: unknown): void {
  const { no, type } = field;
  if (isMessage(type)) {
    w.tag(no, BYTES);
    w.bytes(encode(type, value as Record<string, unknown>));
    return;
  }
  if (typeof type !== 'string') {
    w.tag(no, VARINT); // enum
    w.varint(Math.trunc(Number(value)));
    return;
  }
  switch (type) {
    case 'string':
      w.tag(no, BYTES);
      w.bytes(Buffer.from(String(value), 'utf8'));
      return;
    case 'bool':
      w.tag(no, VARINT);
      w.varint(value ? 1 : 0);
      return;
    case 'int32':
    case 'int64':
    case 'uint64':
      w.tag(no, VARINT);
      w.varint(typeof value === 'bigint' ? value : Math.trunc(Number(value)));
      return;
    case 'map':
      for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        w.tag(no, BYTES);
        w.bytes(encode(mapEntryOf(field), { key, value: v }));
      }
  }
}

export function encode(type: MessageType, message: Record<string, unknown>): Buffer {
  const w = new Writer();
  for (const field of type.fields) {
    const value = message[field.name];
    if (field.repeated) {
      for (const item of (value as unknown[] | undefined) ?? []) writeValue(w, field, item);
    } else if (field.optional ? value !== undefined && value !== null : !isDefault(field.type, value)) {
      writeValue(w, field, value);
    }
  }
  return w.finish();
}

// ---- decoding ------------------------------------------------------------------------------

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('protobuf: truncated varint');
      const byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('protobuf: varint too long');
    }
  }

  bytes(): Buffer {
    const length = Number(this.varint());
    if (this.pos + length > this.buf.length) throw new Error('protobuf: truncated field');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.varint();
    else if (wireType === BYTES) this.bytes();
    else if (wireType === FIXED64) this.pos += 8;
    else if (wireType === FIXED32) this.pos += 4;
    else throw new Error(`protobuf: unsupported wire type ${wireType}`);
  }
}

function scalarFromVarint(type: Scalar, raw: bigint): unknown {
  if (type === 'bool') return raw !== 0n;
  if (type === 'int32') return Number(BigInt.asIntN(32, raw));
  if (type === 'int64') return Number(BigInt.asIntN(64, raw));
  return Number(raw);
}

/**
 * Defaults as proto3 defines them: '', false, 0, [], {}; absent messages are null; absent `optional`
 * fields stay absent (that absence is their point).
 */
function defaultsOf(type: MessageType): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of type.fields) {
    if (f.optional) continue;
    if (f.repeated) out[f.name] = [];
    else if (f.type === 'map') out[f.name] = {};
    else if (isMessage(f.type)) out[f.name] = null;
    else if (typeof f.type !== 'string')
      out[f.name] = 0; // enum
    else out[f.name] = f.type === 'string' ? '' : f.type === 'bool' ? false : 0;
  }
  return out;
}

export function decode(type: MessageType, buf: Buffer): Record<string, unknown> {
  const message = defaultsOf(type);
  const byNo = new Map(type.fields.map((f) => [f.no, f]));
  const r = new Reader(buf);
  while (!r.done) {
    const tag = Number(r.varint());
    const no = tag >>> 3;
    const wireType = tag & 7;
    const field = byNo.get(no);
    if (!field) {
      r.skip(wireType); // unknown fields are skipped, as proto3 requires
      continue;
    }
    const t = field.type;
    if (t === 'map') {
      const entry = decode(mapEntryOf(field), r.bytes());
      // A map entry without its value holds the value type's default, as in every protobuf runtime.
      const value = entry.value ?? decode(field.mapValue!, Buffer.alloc(0));
      (message[field.name] as Record<string, unknown>)[entry.key as string] = value;
    } else if (isMessage(t)) {
      const value = decode(t, r.bytes());
      if (field.repeated) (message[field.name] as unknown[]).push(value);
      else message[field.name] = value;
    } else if (typeof t !== 'string') {
      const value = Number(BigInt.asIntN(32, r.varint())); // enum: unknown values are kept, as proto3 says
      if (field.repeated) (message[field.name] as unknown[]).push(value);
      else message[field.name] = value;
    } else if (t === 'string') {
      const value = r.bytes().toString('utf8');
      if (field.repeated) (message[field.name] as unknown[]).push(value);
      else message[field.name] = value;
    } else if (wireType === BYTES && field.repeated) {
      const packed = new Reader(r.bytes()); // packed repeated scalars (proto3's default)
      while (!packed.done) (message[field.name] as unknown[]).push(scalarFromVarint(t, packed.varint()));
    } else {
      const value = scalarFromVarint(t, r.varint());
      if (field.repeated) (message[field.name] as unknown[]).push(value);
      else message[field.name] = value;
    }
  }
  return message;
}
