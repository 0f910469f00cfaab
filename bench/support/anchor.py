# The PyTorch side of micronet's benchmarks: same engine, same threads, same malloc tuning.
# Reads one JSON command per line: {"bench": name, "config": {...}, "reps": n}; answers with the
# list of per-repetition seconds.
import ctypes
import json
import sys
import time

import torch
import torch.nn.functional as F

# micronet's addon applies this at load; the anchor must run under the same allocator settings.
libc = ctypes.CDLL('libc.so.6')
libc.mallopt(-4, 0)  # M_MMAP_MAX
libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD


def conv_setup(cfg):
    g = torch.Generator().manual_seed(0)
    n, cin, cout, hw, k = cfg['batch'], cfg['cin'], cfg['cout'], cfg['hw'], cfg['k']
    fmt = torch.channels_last if cfg['channelsLast'] else torch.contiguous_format
    x = torch.randn(n, cin, hw, hw, generator=g).contiguous(memory_format=fmt)
    w = (torch.randn(cout, cin, k, k, generator=g) * 0.05).contiguous(memory_format=fmt)
    b = torch.zeros(cout)
    def autocast():
        return torch.autocast('cpu', dtype=torch.bfloat16, enabled=cfg['bf16'])

    if cfg['pass'] == 'forward':
        def step():
            with torch.no_grad(), autocast():
                F.conv2d(x, w, b, padding=k // 2)
        return step
    x.requires_grad_(True)
    w.requires_grad_(True)
    b.requires_grad_(True)
    gout = None

    def step():
        nonlocal gout
        with autocast():
            y = F.conv2d(x, w, b, padding=k // 2)
        if gout is None:
            gout = torch.randn(y.shape, generator=g).to(y.dtype).contiguous(memory_format=fmt)
        y.backward(gout)
        x.grad = w.grad = b.grad = None
    return step


def model_setup(cfg):
    from anchor_model import model_setup as setup
    return setup(cfg)


def data_setup(cfg):
    # The micronet-seed train pipeline as torchvision runs it: PIL images from an in-memory uint8
    # array (as torchvision's CIFAR100 yields them), Pad+RandomCrop, flip, ToTensor, Normalize,
    # then the entry's Cutout; DataLoader with persistent workers.
    import numpy as np
    import torchvision.transforms as tr
    from PIL import Image

    class Cutout:
        def __call__(self, t):
            h, w = t.shape[1], t.shape[2]
            mask = np.ones((h, w), np.float32)
            y, x = np.random.randint(h), np.random.randint(w)
            mask[np.clip(y - 4, 0, h):np.clip(y + 4, 0, h), np.clip(x - 4, 0, w):np.clip(x + 4, 0, w)] = 0.
            return t * torch.from_numpy(mask).expand_as(t)

    class Memory(torch.utils.data.Dataset):
        def __init__(self, n):
            rng = np.random.default_rng(0)
            self.data = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
            self.targets = rng.integers(0, 100, n).tolist()
            self.transform = tr.Compose([
                tr.RandomCrop(32, padding=4), tr.RandomHorizontalFlip(), tr.ToTensor(),
                tr.Normalize((0.5070751592371341, 0.48654887331495067, 0.4409178433670344),
                             (0.2673342858792403, 0.2564384629170882, 0.27615047132568393)),
                Cutout()])

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            return self.transform(Image.fromarray(self.data[i])), self.targets[i]

    w = cfg['workers']
    loader = torch.utils.data.DataLoader(Memory(cfg['n']), batch_size=cfg['batch'], shuffle=True,
                                         num_workers=w, persistent_workers=w > 0)

    def step():
        for _x, _y in loader:
            pass
    return step


BENCHES = {'conv2d': conv_setup, 'model': model_setup, 'data': data_setup}


def timed(step, reps):
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out


for line in sys.stdin:
    cmd = json.loads(line)
    torch.set_num_threads(cmd['threads'])
    step = BENCHES[cmd['bench']](cmd['config'])
    timed(step, cmd.get('warmup', 2))
    sys.stdout.write(json.dumps({'seconds': timed(step, cmd['reps'])}) + '\n')
    sys.stdout.flush()
