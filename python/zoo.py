# The zoo's networks in PyTorch, written from their reference implementations' structure and
# state_dict keys (docs/SPEC.md §9), as the oracle for micronet's models. Commands:
#   parity MODEL CONFIG WEIGHTS INPUTS OUT   parameter count, eval and train logits, gradients, buffers
#   save-pth MODEL CONFIG INPUTS PTH OUT   a PyTorch-initialised model after one step, torch.save'd, + its eval logits
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from googlenet import read_safetensors, write_safetensors


class WideBlock(nn.Module):
    def __init__(self, cin, cout, stride, drop):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.drop = drop
        self.convShortcut = None if cin == cout else nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        a = self.relu1(self.bn1(x))
        shortcut = x if self.convShortcut is None else self.convShortcut(a)
        h = F.dropout(self.conv1(a), self.drop, self.training)
        return shortcut + self.conv2(self.relu2(self.bn2(h)))


class WideStage(nn.Module):
    def __init__(self, n, cin, cout, stride, drop):
        super().__init__()
        self.layer = nn.Sequential(*[WideBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1, drop)
                                     for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, numClasses=100, depth=28, width=10, dropout=0.0):
        super().__init__()
        n = (depth - 4) // 6
        w = [16, 16 * width, 32 * width, 64 * width]
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.block1 = WideStage(n, w[0], w[1], 1, dropout)
        self.block2 = WideStage(n, w[1], w[2], 2, dropout)
        self.block3 = WideStage(n, w[2], w[3], 2, dropout)
        self.bn1 = nn.BatchNorm2d(w[3])
        self.relu = nn.ReLU()
        self.fc = nn.Linear(w[3], numClasses)

    def forward(self, x):
        h = self.block3(self.block2(self.block1(self.conv1(x))))
        h = F.avg_pool2d(self.relu(self.bn1(h)), h.shape[-1])
        return self.fc(h.flatten(1))


class Bottleneck(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.bottle_neck = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 4 * growth, 1, bias=False),
            nn.BatchNorm2d(4 * growth), nn.ReLU(), nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.bottle_neck(x)], 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.down_sample = nn.Sequential(nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 1, bias=False), nn.AvgPool2d(2, 2))

    def forward(self, x):
        return self.down_sample(x)


class DenseNet(nn.Module):
    def __init__(self, numClasses=100, width=1.0):
        super().__init__()
        growth = max(1, round(32 * width))
        blocks = [6, 12, 24, 16]
        c = 2 * growth
        self.conv1 = nn.Conv2d(3, c, 3, padding=1, bias=False)
        self.features = nn.Sequential()
        for b, n in enumerate(blocks):
            block = nn.Sequential()
            for i in range(n):
                block.add_module('bottle_neck_layer_%d' % i, Bottleneck(c, growth))
                c += growth
            last = b == len(blocks) - 1
            self.features.add_module('dense_block%d' % b if last else 'dense_block_layer_%d' % b, block)
            if not last:
                self.features.add_module('transition_layer_%d' % b, Transition(c, int(0.5 * c)))
                c = int(0.5 * c)
        self.features.add_module('bn', nn.BatchNorm2d(c))
        self.features.add_module('relu', nn.ReLU())
        self.classifier = nn.Sequential(nn.AvgPool2d(4))
        self.linear = nn.Linear(c, numClasses)

    def forward(self, x):
        return self.linear(self.classifier(self.features(self.conv1(x))).flatten(1))


class SepConv(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0, bias=True):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, k, stride, padding, groups=cin, bias=bias)
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class SepBranch(nn.Module):
    def __init__(self, c, k, stride=1, padding=0, bias=True):
        super().__init__()
        self.block1 = nn.Sequential(nn.ReLU(), SepConv(c, c, k, stride, padding, bias), nn.BatchNorm2d(c))
        self.block2 = nn.Sequential(nn.ReLU(), SepConv(c, c, k, 1, k // 2), nn.BatchNorm2d(c))

    def forward(self, x):
        return self.block2(self.block1(x))


class Fit(nn.Module):
    def __init__(self, prev, filters):
        super().__init__()
        self.relu = nn.ReLU()
        self.p1 = nn.Sequential(nn.AvgPool2d(1, 2), nn.Conv2d(prev, filters // 2, 1))
        self.p2 = nn.Sequential(nn.ConstantPad2d((0, 1, 0, 1), 0), nn.ConstantPad2d((-1, 0, -1, 0), 0),
                                nn.AvgPool2d(1, 2), nn.Conv2d(prev, filters // 2, 1))
        self.bn = nn.BatchNorm2d(filters)
        self.dim_reduce = nn.Sequential(nn.ReLU(), nn.Conv2d(prev, filters, 1), nn.BatchNorm2d(filters))
        self.filters = filters

    def forward(self, x, prev):
        if prev is None:
            return x
        if x.size(2) != prev.size(2):
            r = self.relu(prev)
            return self.bn(torch.cat([self.p1(r), self.p2(r)], 1))
        return self.dim_reduce(prev) if prev.size(1) != self.filters else prev


class Normal(nn.Module):
    def __init__(self, x_in, prev_in, c):
        super().__init__()
        self.dem_reduce = nn.Sequential(nn.ReLU(), nn.Conv2d(x_in, c, 1, bias=False), nn.BatchNorm2d(c))
        self.block1_left = SepBranch(c, 3, padding=1, bias=False)
        self.block1_right = nn.Sequential()
        self.block2_left = SepBranch(c, 3, padding=1, bias=False)
        self.block2_right = SepBranch(c, 5, padding=2, bias=False)
        self.block3_left = nn.AvgPool2d(3, 1, 1)
        self.block3_right = nn.Sequential()
        self.block4_left = nn.AvgPool2d(3, 1, 1)
        self.block4_right = nn.AvgPool2d(3, 1, 1)
        self.block5_left = SepBranch(c, 5, padding=2, bias=False)
        self.block5_right = SepBranch(c, 3, padding=1, bias=False)
        self.fit = Fit(prev_in, c)

    def forward(self, x, prev):
        prev = self.fit(x, prev)
        h = self.dem_reduce(x)
        return torch.cat([prev,
                          self.block1_left(h) + self.block1_right(h),
                          self.block2_left(prev) + self.block2_right(h),
                          self.block3_left(h) + self.block3_right(h),
                          self.block4_left(prev) + self.block4_right(prev),
                          self.block5_left(prev) + self.block5_right(prev)], 1)


class Reduction(nn.Module):
    def __init__(self, x_in, prev_in, c):
        super().__init__()
        self.dim_reduce = nn.Sequential(nn.ReLU(), nn.Conv2d(x_in, c, 1), nn.BatchNorm2d(c))
        self.layer1block1_left = SepBranch(c, 7, 2, 3)
        self.layer1block1_right = SepBranch(c, 5, 2, 2)
        self.layer1block2_left = nn.MaxPool2d(3, 2, 1)
        self.layer1block2_right = SepBranch(c, 7, 2, 3)
        self.layer1block3_left = nn.AvgPool2d(3, 2, 1)
        self.layer1block3_right = SepBranch(c, 5, 2, 2)
        self.layer2block1_left = nn.MaxPool2d(3, 2, 1)
        self.layer2block1_right = SepBranch(c, 3, 1, 1)
        self.layer2block2_left = nn.AvgPool2d(3, 1, 1)
        self.layer2block2_right = nn.Sequential()
        self.fit = Fit(prev_in, c)

    def forward(self, x, prev):
        prev = self.fit(x, prev)
        h = self.dim_reduce(x)
        a = self.layer1block1_left(prev) + self.layer1block1_right(h)
        b = self.layer1block2_left(h) + self.layer1block2_right(prev)
        c = self.layer1block3_left(h) + self.layer1block3_right(prev)
        d = self.layer2block1_left(h) + self.layer2block1_right(a)
        e = self.layer2block2_left(a) + self.layer2block2_right(b)
        return torch.cat([b, c, d, e], 1)


class NasNet(nn.Module):
    def __init__(self, numClasses=100, cells=6, width=1.0):
        super().__init__()
        f = max(2, 2 * round(16 * width))
        self.stem = nn.Sequential(nn.Conv2d(3, f, 3, padding=1, bias=False), nn.BatchNorm2d(f))
        x_in, prev_in, layers = f, f, []
        for stage in range(3):
            if stage:
                f *= 2
                layers.append(Reduction(x_in, prev_in, f))
                x_in, prev_in = 4 * f, x_in
            for _ in range(cells):
                layers.append(Normal(x_in, prev_in, f))
                x_in, prev_in = 6 * f, x_in
        self.cell_layers = nn.Sequential(*layers)
        self.relu = nn.ReLU()
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(x_in, numClasses)

    def forward(self, x):
        h, prev = self.stem(x), None
        for cell in self.cell_layers:
            h, prev = cell(h, prev), h
        return self.fc(self.avg(self.relu(h)).flatten(1))


MODELS = {'wrn-28-10': WideResNet, 'densenet121': DenseNet, 'nasnet': NasNet}


def build(name, config):
    return MODELS[name](**json.loads(config))


def parity(name, config, weights, inputs, out):
    torch.set_num_threads(int(sys.argv[-1]))
    model = build(name, config)
    model.load_state_dict(read_safetensors(weights))
    io = read_safetensors(inputs)
    x, upstream = io['x'], io['upstream']
    result = {'num_parameters': torch.tensor([sum(p.numel() for p in model.parameters())])}
    model.eval()
    with torch.no_grad():
        result['eval_logits'] = model(x)
    model.train()
    logits = model(x)
    (logits * upstream).sum().backward()
    result['train_logits'] = logits
    for n, p in model.named_parameters():
        if p.grad is not None:  # a branch the forward never takes (NASNet's unused Fit paths) has none
            result['grad.' + n] = p.grad
    for n, b in model.named_buffers():
        result['buffer.' + n] = b
    write_safetensors(out, result)


def save_pth(name, config, inputs, pth, out):
    # PyTorch's own initialisation, one SGD step (so the running statistics move), torch.save.
    torch.set_num_threads(int(sys.argv[-1]))
    torch.manual_seed(0)
    model = build(name, config)
    io = read_safetensors(inputs)
    model.train()
    F.cross_entropy(model(io['x']), io['y']).backward()
    torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9).step()
    torch.save(model.state_dict(), pth)
    model.eval()
    with torch.no_grad():
        write_safetensors(out, {'eval_logits': model(io['x'])})


if __name__ == '__main__':
    {'parity': parity, 'save-pth': save_pth}[sys.argv[1]](*sys.argv[2:-1])
