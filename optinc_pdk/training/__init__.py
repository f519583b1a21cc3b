"""Hardware-aware training of the OptINC ONNs (Sec. III-B) in PyTorch."""
