# The zoo's networks in PyTorch, written from their reference implementations' structure and
# state_dict keys (docs/SPEC.md §7), as the oracle for micronet's models. Commands:
#   parity MODEL CONFIG WEIGHTS INPUTS OUT   parameter count, eval and train logits, gradients, buffers
#   save-pth MODEL CONFIG WEIGHTS INPUTS PTH OUT   torch.save of the state_dict + its eval logits
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


MODELS = {'wrn-28-10': WideResNet, 'densenet121': DenseNet}


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
        result['grad.' + n] = p.grad
    for n, b in model.named_buffers():
        result['buffer.' + n] = b
    write_safetensors(out, result)


def save_pth(name, config, weights, inputs, pth, out):
    torch.set_num_threads(int(sys.argv[-1]))
    model = build(name, config)
    model.load_state_dict(read_safetensors(weights))
    torch.save(model.state_dict(), pth)
    model.eval()
    with torch.no_grad():
        write_safetensors(out, {'eval_logits': model(read_safetensors(inputs)['x'])})


if __name__ == '__main__':
    {'parity': parity, 'save-pth': save_pth}[sys.argv[1]](*sys.argv[2:-1])
