# The PyTorch side of `npm run bench -- model`: the seed GoogLeNet's training step (micronet-seed's:
# masked gradients, Nesterov SGD, masks re-applied) and eval pass.
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'support'))
from googlenet import GoogLeNet  # noqa: E402


def model_setup(cfg):
    torch.manual_seed(0)
    fmt = torch.channels_last if cfg['channelsLast'] else torch.contiguous_format
    model = GoogLeNet().to(memory_format=fmt)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(cfg['batch'], 3, 32, 32, generator=g).contiguous(memory_format=fmt)
    y = torch.randint(0, 100, (cfg['batch'],), generator=g)

    def autocast():
        return torch.autocast('cpu', dtype=torch.bfloat16, enabled=cfg['bf16'])

    if cfg['mode'] == 'eval':
        model.eval()

        def step():
            with torch.no_grad(), autocast():
                model(x)
        return step
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)

    masked = [m for m in model.modules() if hasattr(m, 'mask')]

    def step():
        # The micronet-seed step as a PyTorch user writes it: loss and hits read for the metrics,
        # gradients of pruned weights zeroed, and the masks applied again to weights and momentum.
        with autocast():
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
        loss.item()
        loss.backward()
        for m in masked:
            m.weight.grad.mul_(m.mask)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            for m in masked:
                m.weight.mul_(m.mask)
                opt.state[m.weight]['momentum_buffer'].mul_(m.mask)
            (logits.argmax(1) == y).sum().item()
    return step
