# torchvision for the reference sides of tests and benchmarks. pip's torchvision wheel carries
# native operators built against the CUDA torch of the same release; beside the CPU torch they do
# not load, and torchvision's import then fails on registering shapes for two of them (nms, qnms).
# Its transforms need none: where the native library cannot load, the two schemas are declared so
# that the import goes through.
import importlib.util
import os

import torch

_declared = None


def _native_ops_load():
    spec = importlib.util.find_spec('torchvision')
    if spec is None or not spec.submodule_search_locations:
        return True  # no torchvision: its own import error is the clearer one
    root = spec.submodule_search_locations[0]
    lib = next((os.path.join(root, f) for f in os.listdir(root) if f.startswith('_C.') and f.endswith('.so')), None)
    if lib is None:
        return True
    try:
        torch.ops.load_library(lib)
        return True
    except OSError:
        return False


def torchvision():
    global _declared
    if _declared is None and not _native_ops_load():
        _declared = torch.library.Library('torchvision', 'DEF')
        for op in ('nms', 'qnms'):
            _declared.define(f'{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    import torchvision as tv
    return tv
