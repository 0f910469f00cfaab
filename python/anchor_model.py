# The PyTorch side of `micronet bench`: the seed GoogLeNet's training step (micronet-seed's:
# masked gradients, Nesterov SGD, masks re-applied) and eval pass, on the CPU or a CUDA GPU, eager or
# with the step captured whole into a CUDA graph ('graph') or compiled ('compile').
import inspect
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from googlenet import GoogLeNet  # noqa: E402


def device_of(cfg):
    device = torch.device(cfg.get('device', 'cpu'))
    # Checked first so that a CPU-only PyTorch answers with a message instead of failing mid-setup.
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('CUDA is not available to this PyTorch')
    return device


def sync(device):
    # CUDA work is asynchronous: a repetition's time covers the GPU's work only once it has waited.
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def autocast(device, enabled, cache=True):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled, cache_enabled=cache)


def build(cfg, device):
    """The seed GoogLeNet on `device`, in the config's memory format, and its optimizer."""
    torch.manual_seed(0)
    model = GoogLeNet().to(device, memory_format=memory_format(cfg))
    params = [p for p in model.parameters() if p.requires_grad]
    kw = {}
    if cfg.get('capture') == 'compile' and 'fused' in inspect.signature(torch.optim.SGD).parameters:
        kw['fused'] = True  # one kernel for the whole update; otherwise SGD's default (foreach on CUDA)
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, **kw)
    return model, opt


def memory_format(cfg):
    return torch.channels_last if cfg['channelsLast'] else torch.contiguous_format


def train_step(model, opt, cast, forward=None, totals=None):
    """The micronet-seed step as a PyTorch user writes it: loss and hits read for the metrics,
    gradients of pruned weights zeroed, and the masks applied again to weights and momentum.
    With `totals` (a loss sum and a hit count on the device) the metrics accumulate there instead
    of being read each step, so the step never waits for the GPU (and can be captured)."""
    forward = model if forward is None else forward  # a compiled module has no truth value
    masked = [m for m in model.modules() if hasattr(m, 'mask')]

    def step(x, y):
        with cast():
            logits = forward(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
        if totals is None:
            loss.item()
        else:
            totals[0] += loss.detach()
        loss.backward()
        for m in masked:
            m.weight.grad.mul_(m.mask)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            for m in masked:
                m.weight.mul_(m.mask)
                opt.state[m.weight]['momentum_buffer'].mul_(m.mask)
            hits = (logits.argmax(1) == y).sum()
            if totals is None:
                hits.item()
            else:
                totals[1] += hits
    return step


def captured(body, device):
    """PyTorch's whole-network capture: three warm-up runs of `body` on a side stream (they build
    the optimizer's momentum buffers, cuDNN's and cuBLAS's state), then `body` captured on the same
    stream into a CUDA graph."""
    s = torch.cuda.Stream(device)
    s.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(s):
        for _ in range(3):
            body()
    torch.cuda.current_stream(device).wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=s):
        body()
    return graph


def model_setup(cfg):
    device = device_of(cfg)
    capture = cfg.get('capture', 'eager')
    if capture not in ('eager', 'graph', 'compile'):
        raise ValueError(f'unknown capture {capture!r}')
    if capture == 'graph' and device.type != 'cuda':
        raise ValueError("capture 'graph' needs device 'cuda'")
    if capture == 'compile' and not hasattr(torch, 'compile'):
        raise RuntimeError(f'torch.compile needs PyTorch 2 (this is {torch.__version__})')
    model, opt = build(cfg, device)
    fmt = memory_format(cfg)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(cfg['batch'], 3, 32, 32, generator=g).to(device).contiguous(memory_format=fmt)
    y = torch.randint(0, 100, (cfg['batch'],), generator=g).to(device)
    # Casts cached across a capture boundary are unsafe (PyTorch asks graphed callables for
    # cache_enabled=False), so the graphs cast afresh each replay.
    cast = lambda: autocast(device, cfg['bf16'], cache=capture != 'graph')  # noqa: E731

    if cfg['mode'] == 'eval':
        model.eval()
        # torch.compile for inference as a PyTorch user tunes it: with freezing, which folds the
        # weights as constants (BatchNorm, masks) and, on the CPU, prepacks oneDNN convolutions.
        if capture == 'compile':
            import torch._inductor.config as inductor
            inductor.freezing = True
        run = torch.compile(model) if capture == 'compile' else model

        def forward(x):
            with torch.no_grad(), cast():
                run(x)
        if capture == 'graph':
            static_x = x.clone()
            graph = captured(lambda: forward(static_x), device)
            step = lambda: (static_x.copy_(x), graph.replay())  # noqa: E731
        else:
            step = lambda: forward(x)  # noqa: E731
        return repeated(step, cfg.get('steps', 1), device)

    model.train()
    # Captured or compiled steps keep the metrics on the device: reading them would wait for the GPU.
    totals = None if capture == 'eager' else [torch.zeros((), device=device), torch.zeros((), dtype=torch.long, device=device)]
    if capture == 'graph':
        static_x, static_y = x.clone(), y.clone()
        train = train_step(model, opt, cast, totals=totals)
        graph = captured(lambda: train(static_x, static_y), device)

        def step():
            static_x.copy_(x)
            static_y.copy_(y)
            graph.replay()
    else:
        # torch.compile compiles on the first calls, i.e. during the anchor's warm-up; on CUDA with
        # its own CUDA graphs (reduce-overhead), which do not exist on the CPU.
        mode = 'reduce-overhead' if device.type == 'cuda' else 'default'
        forward = torch.compile(model, mode=mode) if capture == 'compile' else model
        train = train_step(model, opt, cast, forward, totals)
        step = lambda: train(x, y)  # noqa: E731
    return repeated(step, cfg.get('steps', 1), device)


def repeated(step, steps, device):
    """`steps` steps per timed repetition, ended by waiting for the GPU."""
    def run():
        for _ in range(steps):
            step()
        sync(device)
    return run
