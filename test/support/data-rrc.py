# Samples torchvision's RandomResizedCrop.get_params (scale 0.08..1, ratio 3/4..4/3) on an
# H x W image. stdin: {"n": N, "height": H, "width": W, "seed": S}; stdout: [[top, left, h, w], ...].
import json
import sys

import os
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'python'))
from vision import torchvision  # noqa: E402

RandomResizedCrop = torchvision().transforms.RandomResizedCrop

req = json.load(sys.stdin)
torch.manual_seed(req['seed'])
img = torch.zeros(3, req['height'], req['width'], dtype=torch.uint8)
boxes = [list(RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))) for _ in range(req['n'])]
json.dump(boxes, sys.stdout)
