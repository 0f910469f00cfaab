# The seed entry's CIFAR GoogLeNet in PyTorch, written from docs/SPEC.md §2, as the oracle for
# micronet's model. Commands (tensors travel as safetensors files):
#   parity WEIGHTS INPUTS OUT      eval and train logits, every parameter's gradient, BN running stats
#   save-pth WEIGHTS INPUTS PTH OUT  one SGD step, then torch.save in the entry's layout + eval logits
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

DT = {'F32': torch.float32, 'F64': torch.float64, 'I64': torch.int64, 'U8': torch.uint8, 'BOOL': torch.bool,
      'F16': torch.float16, 'BF16': torch.bfloat16, 'I32': torch.int32}
NAME = {v: k for k, v in DT.items()}


def read_safetensors(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        b, e = v['data_offsets']
        buf = bytearray(raw[8 + n + b:8 + n + e])
        t = torch.frombuffer(buf, dtype=DT[v['dtype']]) if buf else torch.empty(0, dtype=DT[v['dtype']])
        out[k] = t.reshape(v['shape']).clone()
    return out


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for k, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = (t.view(torch.int16) if t.dtype in (torch.float16, torch.bfloat16) else t).numpy().tobytes()
        header[k] = {'dtype': NAME[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(chunks))


class MaskedConv2d(nn.Module):
    def __init__(self, cin, cout, k, padding=0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, k, k))
        self.mask = nn.Parameter(torch.ones(cout, cin, k, k), requires_grad=False)
        self.bias = nn.Parameter(torch.empty(cout))
        self.padding = padding
        bound = 1 / math.sqrt(cin * k * k)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class MaskedLinear(nn.Module):
    def __init__(self, fin, fout):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(fout, fin))
        self.mask = nn.Parameter(torch.ones(fout, fin), requires_grad=False)
        self.bias = nn.Parameter(torch.empty(fout))
        bound = 1 / math.sqrt(fin)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class Inception(nn.Module):
    def __init__(self, cin, n1x1, n3x3red, n3x3, n5x5red, n5x5, pool):
        super().__init__()
        self.b1 = nn.Sequential(MaskedConv2d(cin, n1x1, 1), nn.BatchNorm2d(n1x1), nn.ReLU())
        self.b2 = nn.Sequential(MaskedConv2d(cin, n3x3red, 1), nn.BatchNorm2d(n3x3red), nn.ReLU(),
                                MaskedConv2d(n3x3red, n3x3, 3, padding=1), nn.BatchNorm2d(n3x3), nn.ReLU())
        self.b3 = nn.Sequential(MaskedConv2d(cin, n5x5red, 1), nn.BatchNorm2d(n5x5red), nn.ReLU(),
                                MaskedConv2d(n5x5red, n5x5, 3, padding=1), nn.BatchNorm2d(n5x5, n5x5), nn.ReLU(),
                                MaskedConv2d(n5x5, n5x5, 3, padding=1), nn.BatchNorm2d(n5x5), nn.ReLU())
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), MaskedConv2d(cin, pool, 1), nn.BatchNorm2d(pool), nn.ReLU())

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=100):
        super().__init__()
        self.prelayer = nn.Sequential(MaskedConv2d(3, 192, 3, padding=1), nn.BatchNorm2d(192), nn.ReLU())
        self.a3 = Inception(192, 64, 96, 128, 16, 32, 32)
        self.b3 = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.a4 = Inception(480, 192, 96, 208, 16, 48, 64)
        self.b4 = Inception(512, 160, 112, 224, 24, 64, 64)
        self.c4 = Inception(512, 128, 128, 256, 24, 64, 64)
        self.d4 = Inception(512, 112, 144, 288, 32, 64, 64)
        self.e4 = Inception(528, 256, 160, 320, 32, 128, 128)
        self.a5 = Inception(832, 256, 160, 320, 32, 128, 128)
        self.b5 = Inception(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout2d(0.4)
        self.linear = MaskedLinear(1024, num_classes)

    def forward(self, x):
        out = self.b3(self.a3(self.prelayer(x)))
        out = self.maxpool(out)
        for m in (self.a4, self.b4, self.c4, self.d4, self.e4):
            out = m(out)
        out = self.maxpool(out)
        out = self.b5(self.a5(out))
        out = self.dropout(self.avgpool(out))
        return self.linear(out.flatten(1))


def load_model(weights):
    model = GoogLeNet()
    model.load_state_dict(read_safetensors(weights))
    return model


def parity(weights, inputs, out):
    torch.set_num_threads(int(sys.argv[-1]))
    model = load_model(weights)
    io = read_safetensors(inputs)
    x, upstream, seed = io['x'], io['upstream'], int(io['seed'].item())
    result = {}
    model.eval()
    with torch.no_grad():
        result['eval_logits'] = model(x)
    model.train()
    torch.manual_seed(seed)
    logits = model(x)
    (logits * upstream).sum().backward()
    result['train_logits'] = logits
    for name, p in model.named_parameters():
        if p.grad is not None:
            result['grad.' + name] = p.grad
    for name, b in model.named_buffers():
        result['buffer.' + name] = b
    write_safetensors(out, result)


def save_pth(weights, inputs, pth, out):
    torch.set_num_threads(int(sys.argv[-1]))
    model = load_model(weights)
    io = read_safetensors(inputs)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    model.train()
    torch.manual_seed(0)
    F.cross_entropy(model(io['x']), io['y']).backward()
    opt.step()
    torch.save({'epoch': 7, 'model_state_dict': model.state_dict(), 'optimizer_state_dict': opt.state_dict()}, pth)
    model.eval()
    with torch.no_grad():
        write_safetensors(out, {'eval_logits': model(io['x'])})


if __name__ == '__main__':
    {'parity': parity, 'save-pth': save_pth}[sys.argv[1]](*sys.argv[2:-1])
