# PyTorch oracle for micronet's tests: reads one JSON request per line, evaluates the PyTorch
# code it names on the given inputs, and answers with outputs and input gradients.
import base64
import json
import sys

import torch
import torch.nn.functional as F

DTYPES = {
    'float32': torch.float32, 'float64': torch.float64, 'float16': torch.float16, 'bfloat16': torch.bfloat16,
    'int64': torch.int64, 'int32': torch.int32, 'int16': torch.int16, 'int8': torch.int8,
    'uint8': torch.uint8, 'bool': torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}


def decode(d):
    raw = bytearray(base64.b64decode(d['data']))
    dtype = DTYPES[d['dtype']]
    t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
    return t.reshape(d['shape']).clone()


def encode(t):
    if not isinstance(t, torch.Tensor):
        return t
    t = t.detach().cpu().contiguous()
    raw = t.view(torch.int16) if t.dtype in (torch.float16, torch.bfloat16) else t
    return {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data': base64.b64encode(raw.numpy().tobytes()).decode()}


def answer(req):
    torch.set_num_threads(req['threads'])
    env = {'torch': torch, 'F': F}
    inputs = {k: decode(v) for k, v in req['inputs'].items()}
    for k in req.get('grad', []):
        inputs[k].requires_grad_(True)
    env.update(inputs)
    if 'seed' in req:
        torch.manual_seed(req['seed'])
    code = req['code']
    if '\n' in code or code.startswith('with ') or code.startswith('out ='):
        exec(code, env)
        out = env['out']
    else:
        out = eval(code, env)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    grads = {}
    if req.get('grad'):
        outs[0].backward(decode(req['upstream']).to(outs[0].dtype))
        grads = {k: encode(inputs[k].grad) if inputs[k].grad is not None else None for k in req['grad']}
    return {'outputs': [encode(o) for o in outs], 'grads': grads}


for line in sys.stdin:
    try:
        response = answer(json.loads(line))
    except Exception as e:  # reported to the test, which fails with it
        response = {'error': f'{type(e).__name__}: {e}'}
    sys.stdout.write(json.dumps(response) + '\n')
    sys.stdout.flush()
