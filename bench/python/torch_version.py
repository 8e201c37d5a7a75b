"""Prints {"torch": version} for the benchmark report's machine section."""
import json

import torch

print(json.dumps({'torch': torch.__version__}))
