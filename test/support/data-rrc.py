# Samples torchvision's RandomResizedCrop.get_params (scale 0.08..1, ratio 3/4..4/3) on an
# H x W image. stdin: {"n": N, "height": H, "width": W, "seed": S}; stdout: [[top, left, h, w], ...].
import json
import sys

import torch
from torchvision.transforms import RandomResizedCrop

req = json.load(sys.stdin)
torch.manual_seed(req['seed'])
img = torch.zeros(3, req['height'], req['width'], dtype=torch.uint8)
boxes = [list(RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))) for _ in range(req['n'])]
json.dump(boxes, sys.stdout)
