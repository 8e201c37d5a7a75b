"""Minimal safetensors reader/writer (numpy), independent of ganpo's TS code and of the `safetensors` package."""
import json
import struct

import numpy as np

_NP = {'F32': np.float32, 'F16': np.float16, 'I32': np.int32, 'I64': np.int64, 'F64': np.float64}


def write(path, tensors, dtypes=None, metadata=None):
    dtypes = dtypes or {}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        dt = dtypes.get(name, 'F32')
        if dt == 'BF16':
            bits = np.ascontiguousarray(arr.astype(np.float32)).view(np.uint32)
            raw = (bits >> 16).astype('<u2').tobytes()
        else:
            raw = np.ascontiguousarray(arr.astype(np.dtype(_NP[dt]).newbyteorder('<'))).tobytes()
        header[name] = {'dtype': dt, 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = metadata
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8 : 8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        s, e = info['data_offsets']
        raw = data[base + s : base + e]
        if info['dtype'] == 'BF16':
            arr = (np.frombuffer(raw, '<u2').astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, np.dtype(_NP[info['dtype']]).newbyteorder('<'))
        out[name] = arr.reshape(info['shape']).copy()
    return out
