# torchvision's side of the data tests: applies torchvision.transforms.functional to PIL images
# (as torchvision's CIFAR datasets yield them) with explicitly given parameters.
# stdin: JSON list of cases {op, image: {shape: [c, h, w], data: base64 uint8 CHW}, ...};
# stdout: JSON list of {shape, dtype, data: base64 CHW}.
import base64
import json
import sys

import os

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'python'))
from vision import torchvision  # noqa: E402

TF = torchvision().transforms.functional
InterpolationMode = torchvision().transforms.InterpolationMode


def pil(d):
    c, h, w = d['shape']
    chw = np.frombuffer(base64.b64decode(d['data']), np.uint8).reshape(c, h, w)
    return Image.fromarray(np.ascontiguousarray(chw.transpose(1, 2, 0)))


def out(x):
    if isinstance(x, Image.Image):
        x = np.asarray(x).transpose(2, 0, 1)
    elif isinstance(x, torch.Tensor):
        x = x.numpy()
    x = np.ascontiguousarray(x)
    return {'shape': list(x.shape), 'dtype': str(x.dtype), 'data': base64.b64encode(x.tobytes()).decode()}


def cutout(t, cy, cx, side):
    # Cutout as the entry's code has it: a mask with one side x side hole clipped at the border.
    h, w = t.shape[1], t.shape[2]
    mask = np.ones((h, w), np.float32)
    y1, y2 = np.clip(cy - side // 2, 0, h), np.clip(cy + side // 2, 0, h)
    x1, x2 = np.clip(cx - side // 2, 0, w), np.clip(cx + side // 2, 0, w)
    mask[y1:y2, x1:x2] = 0.
    return t * torch.from_numpy(mask).expand_as(t)


def run(case):
    img = pil(case['image'])
    op = case['op']
    if op == 'pad':
        return TF.pad(img, case['padding'])
    if op == 'crop':
        return TF.crop(img, case['top'], case['left'], case['height'], case['width'])
    if op == 'hflip':
        return TF.hflip(img)
    if op == 'resized_crop':
        return TF.resized_crop(img, case['top'], case['left'], case['height'], case['width'], [case['size'], case['size']], InterpolationMode.BILINEAR)
    if op == 'normalize':
        return TF.normalize(TF.to_tensor(img), case['mean'], case['std'])
    if op == 'cutout':
        return cutout(TF.normalize(TF.to_tensor(img), case['mean'], case['std']), case['cy'], case['cx'], case['side'])
    if op == 'pipeline':
        # pad -> (crop | resized_crop) -> flip -> ToTensor -> Normalize -> Cutout, parameters given
        img = TF.pad(img, 4)
        if case['resized']:
            img = TF.resized_crop(img, case['top'], case['left'], case['height'], case['width'], [32, 32], InterpolationMode.BILINEAR)
        else:
            img = TF.crop(img, case['top'], case['left'], 32, 32)
        if case['flip']:
            img = TF.hflip(img)
        t = TF.normalize(TF.to_tensor(img), case['mean'], case['std'])
        return t if case['cy'] < 0 else cutout(t, case['cy'], case['cx'], 8)
    raise ValueError(f'unknown op {op}')


json.dump([out(run(c)) for c in json.load(sys.stdin)], sys.stdout)
