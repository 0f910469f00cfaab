# Writes small CIFAR files the way the official archives hold them, with Python's own pickle,
# numpy and tarfile, for the reader tests. argv[1]: output directory. stdout: the written
# contents as JSON {dataset: {split: {images, fine, coarse}}} (base64 uint8).
import base64
import io
import json
import os
import pickle
import struct
import sys
import tarfile

import numpy as np

FOLDERS = {
    'cifar100': {'binary': 'cifar-100-binary', 'python': 'cifar-100-python'},
    'cifar10': {'binary': 'cifar-10-batches-bin', 'python': 'cifar-10-batches-py'},
}
FILES = {
    'cifar100': {'binary': {'train': ['train.bin'], 'test': ['test.bin']}, 'python': {'train': ['train'], 'test': ['test']}},
    'cifar10': {'binary': {'train': [f'data_batch_{i}.bin' for i in range(1, 6)], 'test': ['test_batch.bin']},
                'python': {'train': [f'data_batch_{i}' for i in range(1, 6)], 'test': ['test_batch']}},
}
EXTRA = {
    'cifar100': {'binary': ['coarse_label_names.txt', 'fine_label_names.txt'], 'python': ['meta']},
    'cifar10': {'binary': ['batches.meta.txt'], 'python': ['batches.meta']},
}


class Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 str (SHORT_BINSTRING/BINSTRING), as the official pickles do."""
    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        n = len(obj)
        self.write(b'U' + bytes([n]) + obj if n < 256 else b'T' + struct.pack('<I', n) + obj)
        self.memoize(obj)
    dispatch[bytes] = save_py2_str


def dumps(obj, style):
    if style == 'python2':
        f = io.BytesIO()
        Python2Pickler(f, protocol=2).dump(obj)
        return f.getvalue()
    return pickle.dumps(obj, protocol=2 if style == 'python3' else 4)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


out_dir = sys.argv[1]
rng = np.random.default_rng(0)
answer = {}
for ds, classes in (('cifar100', 100), ('cifar10', 10)):
    answer[ds] = {}
    files = {}  # (version/style, relative name) -> bytes
    for split, n_per_file in (('train', 7), ('test', 9)):
        n_files = len(FILES[ds]['binary'][split])
        n = n_per_file * n_files
        images = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine = rng.integers(0, classes, n, dtype=np.uint8)
        coarse = rng.integers(0, 20, n, dtype=np.uint8)
        answer[ds][split] = {k: base64.b64encode(v.tobytes()).decode() for k, v in (('images', images), ('fine', fine), ('coarse', coarse))}
        for k in range(n_files):
            sl = slice(k * n_per_file, (k + 1) * n_per_file)
            labels = np.stack([coarse[sl], fine[sl]], 1) if ds == 'cifar100' else fine[sl, None]
            files[('binary', FILES[ds]['binary'][split][k])] = np.concatenate([labels, images[sl]], 1).tobytes()
            for style in ('python2', 'python3', 'python4'):
                key = (lambda s: s.encode()) if style == 'python2' else (lambda s: s)
                d = {key('batch_label'): key(f'{split} batch {k + 1}'), key('data'): images[sl],
                     key('filenames'): [key(f'img_{i}.png') for i in range(n_per_file)]}
                if ds == 'cifar100':
                    d[key('fine_labels')] = [int(x) for x in fine[sl]]
                    d[key('coarse_labels')] = [int(x) for x in coarse[sl]]
                else:
                    d[key('labels')] = [int(x) for x in fine[sl]]
                files[(style, FILES[ds]['python'][split][k])] = dumps(d, style)
    for name in EXTRA[ds]['binary']:
        files[('binary', name)] = b'a\nb\n'
    for style in ('python2', 'python3', 'python4'):
        for name in EXTRA[ds]['python']:
            files[(style, name)] = dumps({'label_names': ['a', 'b']}, style)
    for (style, name), data in files.items():
        version = 'binary' if style == 'binary' else 'python'
        write(os.path.join(out_dir, ds, style, FOLDERS[ds][version], name), data)
    for style, version in (('binary', 'binary'), ('python2', 'python')):
        name = {'cifar100': 'cifar-100', 'cifar10': 'cifar-10'}[ds]
        archive = os.path.join(out_dir, ds, f'{version}-archive', f'{name}-{version}.tar.gz')
        os.makedirs(os.path.dirname(archive), exist_ok=True)
        with tarfile.open(archive, 'w:gz') as tar:
            for (s, name), data in files.items():
                if s == style:
                    info = tarfile.TarInfo(f'{FOLDERS[ds][version]}/{name}')
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))


class Evil:
    def __reduce__(self):
        return (os.system, ('true',))


write(os.path.join(out_dir, 'evil', 'cifar-100-python', 'train'), pickle.dumps({'data': Evil()}, protocol=2))
json.dump(answer, sys.stdout)
