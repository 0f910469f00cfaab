# The PyTorch side of micronet's benchmarks: same engine, same threads, same malloc tuning.
# Reads one JSON command per line: {"bench": name, "config": {...}, "reps": n, "threads": t,
# "warmup": w}; answers {"seconds": [per-repetition seconds]}, or {"error": message} if it failed.
import ctypes
import json
import sys
import time
import traceback

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


# The micronet-seed train pipeline as torchvision runs it: PIL images from an in-memory uint8 array
# (as torchvision's CIFAR100 yields them), Pad+RandomCrop, flip, ToTensor, Normalize, then the
# entry's Cutout. Module-level so that DataLoader workers started by spawn or forkserver can unpickle
# them; numpy, PIL and torchvision are imported where used, so that the conv2d and model benches run
# where only torch is installed.
class Cutout:
    def __call__(self, t):
        import numpy as np
        h, w = t.shape[1], t.shape[2]
        mask = np.ones((h, w), np.float32)
        y, x = np.random.randint(h), np.random.randint(w)
        mask[np.clip(y - 4, 0, h):np.clip(y + 4, 0, h), np.clip(x - 4, 0, w):np.clip(x + 4, 0, w)] = 0.
        return t * torch.from_numpy(mask).expand_as(t)


class Memory(torch.utils.data.Dataset):
    def __init__(self, n):
        import numpy as np
        from vision import torchvision
        tr = torchvision().transforms
        from PIL import Image
        rng = np.random.default_rng(0)
        self.data = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        self.targets = rng.integers(0, 100, n).tolist()
        self.image = Image.fromarray
        self.transform = tr.Compose([
            tr.RandomCrop(32, padding=4), tr.RandomHorizontalFlip(), tr.ToTensor(),
            tr.Normalize((0.5070751592371341, 0.48654887331495067, 0.4409178433670344),
                         (0.2673342858792403, 0.2564384629170882, 0.27615047132568393)),
            Cutout()])

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.transform(self.image(self.data[i])), self.targets[i]


def train_loader(cfg, **kw):
    """The pipeline's DataLoader over `n` images: shuffled, `workers` persistent workers."""
    w = cfg['workers']
    return torch.utils.data.DataLoader(Memory(cfg['n']), batch_size=cfg['batch'], shuffle=True,
                                       num_workers=w, persistent_workers=w > 0, **kw)


def data_setup(cfg):
    loader = train_loader(cfg)

    def step():
        for _x, _y in loader:
            pass
    return step


def epoch_setup(cfg):
    # One training epoch end to end: the data pipeline feeding the model bench's eager step.
    # drop_last keeps every step's shapes the same, as a fixed-shape training step expects.
    from anchor_model import autocast, build, device_of, memory_format, sync, train_step
    device = device_of(cfg)
    model, opt = build(cfg, device)
    model.train()
    train = train_step(model, opt, lambda: autocast(device, cfg['bf16']))
    loader = train_loader(cfg, drop_last=True, pin_memory=device.type == 'cuda')
    fmt = memory_format(cfg)

    def step():
        for x, y in loader:
            x = x.to(device, non_blocking=True).contiguous(memory_format=fmt)
            train(x, y.to(device, non_blocking=True))
        sync(device)
    return step


def ops_setup(cfg):
    # bench/ops.ts: the host cost of one operator call on tiny tensors, CALLS calls per step.
    x, y = torch.rand(4, 4), torch.rand(4, 4)
    img, w = torch.rand(1, 4, 4, 4), torch.rand(4, 4, 3, 3)
    xs = [torch.rand(4, 4) for _ in range(50)]
    ys = [torch.rand(4, 4) for _ in range(50)]
    calls = {
        'x.add(y)': lambda: x.add(y),
        'x.mul_(2)': lambda: x.mul_(2),
        'F.relu(x)': lambda: F.relu(x),
        'x.sum()': lambda: x.sum(),
        'tidy(x.add(y).mul(y))': lambda: x.add(y).mul(y),
        'conv2d [1,4,4,4]*[4,4,3,3]': lambda: F.conv2d(img, w),
        'foreachAdd_ 50 tensors': lambda: torch._foreach_add_(xs, ys),
    }
    call, n = calls[cfg['case']], cfg['calls']

    def step():
        for _ in range(n):
            call()
    return step


BENCHES = {'conv2d': conv_setup, 'ops': ops_setup, 'model': model_setup, 'data': data_setup, 'epoch': epoch_setup}


def timed(step, reps):
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out


def answer(line):
    try:
        cmd = json.loads(line)
        if cmd.get('bench') == 'versions':
            return {'pytorch': torch.__version__, 'cuda': torch.version.cuda}
        torch.set_num_threads(cmd['threads'])
        step = BENCHES[cmd['bench']](cmd['config'])
        timed(step, cmd.get('warmup', 2))
        return {'seconds': timed(step, cmd['reps'])}
    except Exception as e:  # a failed command is the caller's to report; the next one may succeed
        traceback.print_exc()
        return {'error': f'{type(e).__name__}: {e}'}


if __name__ == '__main__':  # not when a DataLoader worker imports this file to unpickle its dataset
    # Answers alone go to stdout: whatever else prints (compilers, libraries) goes to stderr.
    out, sys.stdout = sys.stdout, sys.stderr
    for line in sys.stdin:
        out.write(json.dumps(answer(line)) + '\n')
        out.flush()
