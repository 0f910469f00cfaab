# An independent PyTorch implementation of the two seed recipes (docs/SPEC.md §4) for the
# recipe oracle test, using torch.optim.SGD and torch.optim.lr_scheduler.MultiStepLR.
#   python recipe_oracle.py RECIPE.json WEIGHTS.safetensors BATCHES.safetensors OUT.safetensors THREADS
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'python'))
from googlenet import MaskedConv2d, MaskedLinear, read_safetensors, write_safetensors  # noqa: E402


class TinyNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = MaskedConv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = MaskedConv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.relu2 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = MaskedLinear(16, classes)

    def forward(self, x):
        h = self.pool(self.relu1(self.bn1(self.conv1(x))))
        h = self.gap(self.relu2(self.bn2(self.conv2(h))))
        return self.fc(h.flatten(1))


def masked_layers(model, which):
    for m in model.modules():
        if isinstance(m, MaskedConv2d) and which in ('conv', 'all'):
            yield m
        if isinstance(m, MaskedLinear) and which in ('linear', 'all'):
            yield m


def main(recipe_path, weights, batches, out):
    recipe = json.load(open(recipe_path))
    model = TinyNet()
    model.load_state_dict(read_safetensors(weights))
    data = read_safetensors(batches)
    xs, ys = data['x'], data['y']
    epochs, per_epoch = recipe['epochs'], xs.shape[0] // recipe['epochs']
    o, s, loss_cfg, pruning = recipe['optimizer'], recipe['schedule'], recipe['loss'], recipe['pruning']
    params = [p for p in model.parameters() if p.requires_grad]

    def fresh(gamma):
        opt = torch.optim.SGD(params, lr=s['lr'], momentum=o['momentum'], dampening=o['dampening'],
                              weight_decay=o['weightDecay'], nesterov=o['nesterov'])
        return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones=s['milestones'], gamma=gamma)

    opt, sched = fresh(s['gamma'])
    lrs, losses = [], []
    model.train()
    for epoch in range(1, epochs + 1):
        for event in [e for e in pruning['events'] if e['epoch'] == epoch]:
            with torch.no_grad():
                for m in masked_layers(model, event['layers']):
                    threshold = pruning['q'] * m.weight.std(unbiased=False)
                    m.mask.mul_((m.weight.abs() >= threshold).float())
                    m.weight.mul_(m.mask)
            if recipe['restartOptimizerOnPrune']:
                opt, sched = fresh(s['gammaAfterPrune'] if s['gammaAfterPrune'] is not None else s['gamma'])
        if epoch > s['warmupEpochs']:
            while sched.last_epoch < epoch:  # the multistep schedule's position is the epoch number
                sched.step()
        for b in range(per_epoch):
            i = (epoch - 1) * per_epoch + b
            if epoch <= s['warmupEpochs']:
                t, total = (epoch - 1) * per_epoch + b + 1, s['warmupEpochs'] * per_epoch
                for g in opt.param_groups:
                    g['lr'] = s['lr'] * t / total
            lrs.append(opt.param_groups[0]['lr'])
            logits = model(xs[i])
            k = logits.shape[1]
            if loss_cfg['form'] == 'uniform':
                loss = F.cross_entropy(logits, ys[i], label_smoothing=loss_cfg['smoothing'])
            else:
                target = torch.full_like(logits, loss_cfg['smoothing'] / (k - 1))
                target.scatter_(1, ys[i].unsqueeze(1), 1 - loss_cfg['smoothing'])
                loss = -(target * F.log_softmax(logits, 1)).sum(1).mean()
            losses.append(loss.item())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            with torch.no_grad():
                if pruning['gradientMasking'] == 'masked-weights':
                    for m in masked_layers(model, 'all'):
                        m.weight.grad.mul_(m.mask)
                else:
                    for p in params:
                        p.grad[p == 0] = 0
            opt.step()
            with torch.no_grad():
                for m in masked_layers(model, 'all'):
                    m.weight.mul_(m.mask)
                    buf = opt.state[m.weight].get('momentum_buffer')
                    if buf is not None:
                        buf.mul_(m.mask)
        # warm-up leaves the rate at exactly s['lr'], where the multistep schedule takes over
    result = {k: v for k, v in model.state_dict().items()}
    result['lrs'] = torch.tensor(lrs, dtype=torch.float64)
    result['losses'] = torch.tensor(losses, dtype=torch.float64)
    write_safetensors(out, result)


if __name__ == '__main__':
    torch.set_num_threads(int(sys.argv[5]))
    main(*sys.argv[1:5])
