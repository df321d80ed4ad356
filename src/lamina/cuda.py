"""GPU support through CuPy (optional): ``lamina.cuda.is_available()``."""


def is_available():
    """True when CuPy is installed and sees at least one NVIDIA GPU."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def device_count():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount()
    except Exception:
        return 0


def manual_seed(seed):
    """Seeds lamina's generator (lamina draws random numbers on the host, so CPU and GPU runs agree)."""
    from lamina.backend.random import manual_seed as _ms

    return _ms(seed)


manual_seed_all = manual_seed
