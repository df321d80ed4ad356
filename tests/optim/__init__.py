"""Tests of lamina.optim against torch.optim."""
