// The ONNX file format: the protobuf messages of onnx.proto that an exported model uses (model,
// graph, node, attribute, tensor, value info), encoded with the wire writer the project already
// uses for TensorBoard. Field numbers are onnx.proto's.
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

/** TensorProto.DataType values. */
export const onnxType = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7 } as const;
export type OnnxType = keyof typeof onnxType;

/** An initializer: a named constant tensor, its values as raw little-endian bytes. */
export interface OnnxTensor {
  name: string;
  type: OnnxType;
  dims: readonly number[];
  data: ArrayBufferView;
}

/** An attribute value: an int, a float, a list of ints, or a string. */
export type OnnxAttribute = number | { float: number } | readonly number[] | string;

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  attributes?: Record<string, OnnxAttribute>;
}

/** A graph input or output: a float32 tensor whose first dimension may be symbolic. */
export interface OnnxValue {
  name: string;
  type: OnnxType;
  shape: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValue[];
  outputs: readonly OnnxValue[];
}

/** The IR version each opset needs (onnx's versioning table). */
export function irVersionFor(opset: number): number {
  return opset >= 21 ? 10 : opset >= 19 ? 9 : opset >= 15 ? 8 : 7;
}

const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

function message(w: BinaryWriter, field: number, write: (w: BinaryWriter) => void): void {
  w.tag(field, WireType.LengthDelimited).fork();
  write(w);
  w.join();
}

function tensor(w: BinaryWriter, t: OnnxTensor): void {
  for (const d of t.dims) w.tag(1, WireType.Varint).int64(d);
  w.tag(2, WireType.Varint).int32(onnxType[t.type]);
  w.tag(8, WireType.LengthDelimited).string(t.name);
  w.tag(9, WireType.LengthDelimited).bytes(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function attribute(w: BinaryWriter, name: string, value: OnnxAttribute): void {
  w.tag(1, WireType.LengthDelimited).string(name);
  if (typeof value === 'number') {
    w.tag(3, WireType.Varint).int64(value);
    w.tag(20, WireType.Varint).int32(AttributeType.INT);
  } else if (typeof value === 'string') {
    w.tag(4, WireType.LengthDelimited).bytes(new TextEncoder().encode(value));
    w.tag(20, WireType.Varint).int32(AttributeType.STRING);
  } else if (Array.isArray(value)) {
    for (const v of value) w.tag(8, WireType.Varint).int64(v);
    w.tag(20, WireType.Varint).int32(AttributeType.INTS);
  } else {
    w.tag(2, WireType.Bit32).float((value as { float: number }).float);
    w.tag(20, WireType.Varint).int32(AttributeType.FLOAT);
  }
}

function node(w: BinaryWriter, n: OnnxNode): void {
  for (const i of n.inputs) w.tag(1, WireType.LengthDelimited).string(i);
  for (const o of n.outputs) w.tag(2, WireType.LengthDelimited).string(o);
  if (n.name) w.tag(3, WireType.LengthDelimited).string(n.name);
  w.tag(4, WireType.LengthDelimited).string(n.op);
  for (const [k, v] of Object.entries(n.attributes ?? {})) message(w, 5, (a) => attribute(a, k, v));
}

function valueInfo(w: BinaryWriter, v: OnnxValue): void {
  w.tag(1, WireType.LengthDelimited).string(v.name);
  message(w, 2, (type) =>
    message(type, 1, (t) => {
      t.tag(1, WireType.Varint).int32(onnxType[v.type]);
      message(t, 2, (shape) => {
        for (const d of v.shape)
          message(shape, 1, (dim) =>
            typeof d === 'number'
              ? dim.tag(1, WireType.Varint).int64(d)
              : dim.tag(2, WireType.LengthDelimited).string(d),
          );
      });
    }),
  );
}

/** A ModelProto: the graph under the default domain at `opset`, with micronet as its producer. */
export function encodeModel(graph: OnnxGraph, opset: number, producerVersion: string): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).int64(irVersionFor(opset));
  w.tag(2, WireType.LengthDelimited).string('micronet');
  w.tag(3, WireType.LengthDelimited).string(producerVersion);
  message(w, 7, (g) => {
    for (const n of graph.nodes) message(g, 1, (m) => node(m, n));
    g.tag(2, WireType.LengthDelimited).string(graph.name);
    for (const t of graph.initializers) message(g, 5, (m) => tensor(m, t));
    for (const v of graph.inputs) message(g, 11, (m) => valueInfo(m, v));
    for (const v of graph.outputs) message(g, 12, (m) => valueInfo(m, v));
  });
  message(w, 8, (o) => {
    o.tag(1, WireType.LengthDelimited).string('');
    o.tag(2, WireType.Varint).int64(opset);
  });
  return w.finish();
}
