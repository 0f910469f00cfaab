// Quantization-aware training against PyTorch's torch.ao.quantization: a conv -> BatchNorm ->
// ReLU -> linear network, BatchNorm folded, inputs and weights fake-quantized with the same
// observers and ranges, through training steps: the same logits, gradients, ranges and qparams.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { BatchNorm2d, MaskedConv2d, MaskedLinear, Module, ReLU, Sequential, type LayerBits } from '../src/nn/index.js';
import { prepareQuantized, setObserving } from '../src/quant/prepare.js';
import { assertClose, TorchOracle } from './support/oracle.js';

const oracle = new TorchOracle();
after(() => oracle.close());

class ConvBnReluLinear extends Module {
  override get sampleShape() {
    return [3, 6, 6];
  }
  readonly features: Sequential;
  readonly fc: MaskedLinear;
  constructor(generator: T.Generator) {
    super();
    this.features = this.registerModule(
      'features',
      new Sequential(new MaskedConv2d(3, 8, 3, { padding: 1, generator }), new BatchNorm2d(8), new ReLU()),
    );
    this.fc = this.registerModule('fc', new MaskedLinear(8 * 6 * 6, 10, { generator }));
  }
  get conv(): MaskedConv2d {
    return this.features.layers[0] as MaskedConv2d;
  }
  forward(x: T.Tensor, training: boolean): T.Tensor {
    return T.tidy(() => this.fc.forward(this.features.forward(x, training).flatten(1), training));
  }
}

/** Builds torch.ao FakeQuantize modules with the observers micronet's layers use, and runs the same steps. */
const pytorchQat = `
from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver
from torch.nn.utils.fusion import fuse_conv_bn_weights
def act(bits):
    return FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=2 ** bits - 1, averaging_constant=0.01,
                        dtype=torch.quint8 if bits <= 8 else torch.qint32, qscheme=torch.per_tensor_affine)
def weight(bits):
    return FakeQuantize(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-2 ** (bits - 1), quant_max=2 ** (bits - 1) - 1,
                        averaging_constant=1.0, ch_axis=0, dtype=torch.qint8 if bits <= 8 else torch.qint32, qscheme=torch.per_channel_symmetric)
cw, cb = fuse_conv_bn_weights(conv_w, conv_b, bn_mean, bn_var, float(eps), bn_w, bn_b)
cw, cb, fw, fb = [torch.nn.Parameter(t.detach().clone()) for t in (cw, cb, fc_w, fc_b)]
fq = {'conv_in': act(int(bits[1])), 'conv_w': weight(int(bits[0])), 'fc_in': act(int(bits[3])), 'fc_w': weight(int(bits[2]))}
def forward(x):
    h = F.relu(F.conv2d(fq['conv_in'](x), fq['conv_w'](cw * conv_mask), cb, padding=1))
    return F.linear(fq['fc_in'](h.flatten(1)), fq['fc_w'](fw * fc_mask), fb)
out = []
for k in range(xs.shape[0]):
    logits = forward(xs[k])
    F.cross_entropy(logits, ys[k]).backward()
    out += [logits, cw.grad, cb.grad, fw.grad, fb.grad]
    for name in ('conv_in', 'conv_w', 'fc_in', 'fc_w'):
        m = fq[name]
        out += [m.scale.clone(), m.zero_point.clone()]  # buffers change in place at the next step
        if name.endswith('_in'): out += [m.activation_post_process.min_val.clone(), m.activation_post_process.max_val.clone()]
    with torch.no_grad():
        for p in (cw, cb, fw, fb):
            p -= p.grad * 0.5
            p.grad = None
for m in fq.values(): m.disable_observer()
with torch.no_grad():
    out.append(forward(xs[0]))
logits = forward(xs[1])
F.cross_entropy(logits, ys[1]).backward()
out += [logits, cw.grad, fw.grad]
`;

async function compare(bits: { conv: LayerBits; fc: LayerBits }): Promise<void> {
  const g = new T.Generator(7);
  const model = new ConvBnReluLinear(g);
  const xs = T.randn([3, 4, 3, 6, 6], { generator: g }).mul(2);
  const ys = T.randint(0, 10, [3, 4], { generator: g });
  // Pruned weights (zero where masked) and non-trivial BatchNorm statistics, as after training.
  T.noGrad(() => {
    for (const layer of [model.conv, model.fc]) {
      layer.mask!.copy_(T.rand(layer.weight.shape, { generator: g }).ge(0.3).to('float32'));
      layer.weight.mul_(layer.mask!);
    }
    for (let i = 0; i < 3; i++) model.forward(xs.narrow(0, i, 1).squeeze(0), true).dispose();
  });
  const sd = model.stateDict();
  const bn = model.features.layers[1] as BatchNorm2d;
  const inputs = {
    xs,
    ys,
    conv_w: sd.get('features.0.weight')!,
    conv_b: sd.get('features.0.bias')!,
    conv_mask: sd.get('features.0.mask')!,
    bn_w: sd.get('features.1.weight')!,
    bn_b: sd.get('features.1.bias')!,
    bn_mean: sd.get('features.1.running_mean')!,
    bn_var: sd.get('features.1.running_var')!,
    eps: T.tensor([bn.eps]),
    fc_w: sd.get('fc.weight')!,
    fc_b: sd.get('fc.bias')!,
    fc_mask: sd.get('fc.mask')!,
    bits: T.tensor(new Int32Array([bits.conv.weight, bits.conv.input, bits.fc.weight, bits.fc.input])),
  };
  const { outputs } = await oracle.run({ code: pytorchQat, inputs });

  prepareQuantized(model, { layers: { 'features.0': bits.conv, fc: bits.fc }, averagingConstant: 0.01 });
  const params = [model.conv.weight, model.conv.bias!, model.fc.weight, model.fc.bias!];
  // The same kernels on the same floats: everything agrees bit for bit.
  const exact = { rtol: 0, atol: 0 };
  let at = 0;
  for (let k = 0; k < 3; k++) {
    const logits = model.forward(xs.narrow(0, k, 1).squeeze(0), true);
    T.F.crossEntropy(logits, ys.narrow(0, k, 1).squeeze(0)).backward();
    assertClose(logits, outputs[at++] as never, exact, `step ${k} logits`);
    params.forEach((p, i) => assertClose(p.grad!, outputs[at++] as never, exact, `step ${k} gradient ${i}`));
    for (const layer of [model.conv, model.fc]) {
      const sdl = layer.stateDict();
      // torch.ao keeps per-tensor qparams as 1-element tensors.
      assertClose(sdl.get('input_scale')!.reshape([1]), outputs[at++] as never, exact, `step ${k} input scale`);
      assertClose(
        sdl.get('input_zero_point')!.reshape([1]),
        outputs[at++] as never,
        exact,
        `step ${k} input zero point`,
      );
      assertClose(sdl.get('input_min')!, outputs[at++] as never, exact, `step ${k} input range min`);
      assertClose(sdl.get('input_max')!, outputs[at++] as never, exact, `step ${k} input range max`);
      assertClose(sdl.get('weight_scale')!, outputs[at++] as never, exact, `step ${k} weight scales`);
      assertClose(sdl.get('weight_zero_point')!, outputs[at++] as never, exact, `step ${k} weight zero points`);
    }
    T.noGrad(() => {
      for (const p of params) {
        p.copy_(p.sub(p.grad!.mul(0.5)));
        p.grad!.zero_();
      }
    });
  }
  // Frozen observers (torch.ao's disable_observer): eval, then a training step, with the last ranges.
  setObserving(model, false);
  assertClose(
    T.noGrad(() => model.forward(xs.narrow(0, 0, 1).squeeze(0), false)),
    outputs[at++] as never,
    exact,
    'eval logits',
  );
  const logits = model.forward(xs.narrow(0, 1, 1).squeeze(0), true);
  T.F.crossEntropy(logits, ys.narrow(0, 1, 1).squeeze(0)).backward();
  assertClose(logits, outputs[at++] as never, exact, 'frozen-range step logits');
  assertClose(model.conv.weight.grad!, outputs[at++] as never, exact, 'frozen-range conv gradient');
  assertClose(model.fc.weight.grad!, outputs[at++] as never, exact, 'frozen-range linear gradient');
  // Pruned weights are exactly zero after quantization: symmetric grids keep 0 at 0.
  const wq = T.noGrad(() =>
    T.F.fakeQuantizePerChannelAffine(
      model.conv.effectiveWeight(),
      model.conv.stateDict().get('weight_scale')!,
      model.conv.stateDict().get('weight_zero_point')!,
      0,
      -(2 ** (bits.conv.weight - 1)),
      2 ** (bits.conv.weight - 1) - 1,
    ),
  );
  assert.equal(
    T.tidy(() => wq.eq(0).logicalAnd(model.conv.mask!.eq(0)).sum().item()),
    T.tidy(() => model.conv.mask!.eq(0).sum().item()),
  );
  model.dispose();
}

test('8-bit QAT equals torch.ao FakeQuantize: logits, gradients, ranges and qparams through 3 steps', () =>
  compare({ conv: { weight: 8, input: 8 }, fc: { weight: 8, input: 8 } }));
test('4-bit weights with 8-bit inputs, and 3/5 bits, equal torch.ao FakeQuantize', async () => {
  await compare({ conv: { weight: 4, input: 8 }, fc: { weight: 4, input: 8 } });
  await compare({ conv: { weight: 3, input: 5 }, fc: { weight: 6, input: 4 } });
});
test('12-bit weights and 10-bit inputs (wider than int8) equal torch.ao FakeQuantize', () =>
  compare({ conv: { weight: 12, input: 10 }, fc: { weight: 12, input: 10 } }));
