"""``Module``: the base of every layer and model, with PyTorch's registration, traversal and state_dict rules."""

from collections import OrderedDict, namedtuple

from lamina.autograd.function import _RemovableHandle
from lamina.nn.parameter import Buffer, Parameter
from lamina.tensor import Tensor

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of all neural-network modules.

    Assigning a ``Parameter``, a ``Module`` or (through ``register_buffer``) a buffer tensor to an attribute
    registers it, so that ``parameters()``, ``state_dict()``, ``to()`` and ``train()/eval()`` reach it.

    Example:
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = nn.Linear(4, 2)
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
    """

    training: bool

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_hook_id"] = 0

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required \"forward\" function")

    # ------------------------------------------------------------------ calling

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:
            with_kw = self._hooks_with_kwargs
            for k, hook in list(self._forward_pre_hooks.items()):
                if k in with_kw:
                    r = hook(self, args, kwargs)
                    if r is not None:
                        if not (isinstance(r, tuple) and len(r) == 2):
                            raise RuntimeError(f"forward pre-hook must return None or a tuple of (new_args, "
                                               f"new_kwargs), but got {r}.")
                        args, kwargs = r
                else:
                    r = hook(self, args)
                    if r is not None:
                        args = r if isinstance(r, tuple) else (r,)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            with_kw = self._hooks_with_kwargs
            for k, hook in list(self._forward_hooks.items()):
                r = hook(self, args, kwargs, out) if k in with_kw else hook(self, args, out)
                if r is not None:
                    out = r
        return out

    def _next_hook_id(self):
        self.__dict__["_hook_id"] += 1
        return self._hook_id

    def _add_hook(self, store, hook, prepend, with_kwargs):
        k = self._next_hook_id()
        store[k] = hook
        if prepend:
            store.move_to_end(k, last=False)
        if with_kwargs:
            if "_hooks_with_kwargs" not in self.__dict__:
                self.__dict__["_hooks_with_kwargs"] = set()
            self._hooks_with_kwargs.add(k)
        return _DictHandle(store, k)

    _hooks_with_kwargs = frozenset()

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)`` with ``with_kwargs``) runs
        after forward; a returned value replaces the output. ``prepend`` runs it before the hooks already there.
        Returns a handle whose ``remove()`` unregisters it."""
        return self._add_hook(self._forward_hooks, hook, prepend, with_kwargs)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` runs before forward; a returned value (a tuple, or one value) replaces the
        positional inputs. With ``with_kwargs``: ``hook(module, args, kwargs)`` returning None or (args, kwargs)."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend, with_kwargs)

    # ------------------------------------------------------------------ registration

    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"cannot assign to {name!r} before Module.__init__() call")
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, Parameter):
            self._discard(name, keep=params)
            params[name] = value
        elif isinstance(value, Buffer):
            self._discard(name, keep=buffers)
            self.register_buffer(name, Tensor._make(value._data, False, None, 0), value.persistent)
        elif isinstance(value, Module):
            self._discard(name, keep=modules)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                f"(lamina.nn.Parameter or None expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                f"(lamina.nn.Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                f"(lamina.Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _discard(self, name, keep):
        d = self.__dict__
        d.pop(name, None)
        for store in (d["_parameters"], d["_buffers"], d["_modules"]):
            if store is not keep:
                store.pop(name, None)
        if keep is not d["_buffers"]:
            d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._buffers) + list(self._modules)

    def register_parameter(self, name, param):
        if "." in name or not name:
            raise KeyError(f"parameter name can't contain \".\" or be empty, got {name!r}")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            f"(lamina.nn.Parameter or None required)")
        self._discard(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a tensor that is state but not a parameter (e.g. BatchNorm's running mean)."""
        if "." in name or not name:
            raise KeyError(f"buffer name can't contain \".\" or be empty, got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            f"(lamina.Tensor or None required)")
        self._discard(name, keep=self._buffers)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if "." in str(name):
            raise KeyError(f"module name can't contain \".\", got: {name}")
        self._discard(str(name), keep=self._modules)
        self._modules[str(name)] = module

    register_module = add_module

    def get_submodule(self, target):
        mod = self
        if target == "":
            return mod
        for item in target.split("."):
            if item not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no attribute `{item}`")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{name}`")
        return mod._parameters[name]

    # ------------------------------------------------------------------ traversal

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        stack = [(prefix, self)]
        seen = set() if memo is None else memo
        while stack:  # iterative pre-order walk: deep models do not hit the recursion limit
            name, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in seen:
                    continue
                seen.add(id(mod))
            yield name, mod
            children = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, getter, prefix="", recurse=True, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mname, mod in mods:
            for k, v in getter(mod).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield (f"{mname}.{k}" if mname else k), v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._parameters, prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._buffers, prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------------ modes and transforms

    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad._data[...] = 0

    def apply(self, fn):
        """Call ``fn`` on every submodule and then on self, depth first, children before parents (PyTorch's
        order: a post-order walk, iterative so deep models do not hit the recursion limit)."""
        stack = [(self, False)]
        while stack:
            mod, expanded = stack.pop()
            if expanded:
                fn(mod)
                continue
            stack.append((mod, True))
            stack.extend((c, False) for c in reversed(list(mod.children())))
        return self

    def _apply_to_tensors(self, fn):
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    new = fn(p)
                    p._data = new._data
                    if p.grad is not None:
                        p.grad._data = fn(p.grad)._data
            for k, b in m._buffers.items():
                if b is not None:
                    m._buffers[k] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """Cast floating-point parameters and buffers to a dtype and/or move them to a device, in place."""
        dtype = kwargs.get("dtype")
        device = kwargs.get("device")
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, str) or type(a).__name__ == "device":
                device = a
            else:
                dtype = a

        def convert(t):
            out = t.detach()
            if device is not None:
                out = out.to(device)
            if dtype is not None and out.is_floating_point():
                out = out.to(dtype)
            return out

        return self._apply_to_tensors(convert)

    def float(self):
        from lamina.backend.dtypes import float32

        return self.to(float32)

    def double(self):
        from lamina.backend.dtypes import float64

        return self.to(float64)

    def half(self):
        from lamina.backend.dtypes import float16

        return self.to(float16)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}")

    # ------------------------------------------------------------------ state

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered mapping from dotted names to parameter and persistent buffer tensors (detached)."""
        out = OrderedDict() if destination is None else destination
        # no de-duplication: a module reached twice is saved under both names, as in PyTorch
        for mname, mod in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            pre = f"{mname}." if mname else ""
            for k, p in mod._parameters.items():
                if p is not None:
                    out[pre + k] = p if keep_vars else p.detach()
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent_buffers_set:
                    out[pre + k] = b if keep_vars else b.detach()
            extra = getattr(type(mod), "get_extra_state", None)
            if extra is not None and extra is not Module.get_extra_state:
                out[pre + "_extra_state"] = mod.get_extra_state()
        return out

    def get_extra_state(self):
        return None

    def set_extra_state(self, state):
        pass

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy tensors from ``state_dict`` into this module's parameters and buffers (matched by name).

        With ``strict=True`` a missing key, an unexpected key or a shape mismatch raises one error that lists
        them all; with ``strict=False`` missing and unexpected keys are returned (shape mismatches still raise).
        """
        from lamina.autograd.grad_mode import no_grad

        own = OrderedDict()
        extra_mods = {}
        for mname, mod in self.named_modules(remove_duplicate=False):
            pre = f"{mname}." if mname else ""
            for k, p in mod._parameters.items():
                if p is not None:
                    own[pre + k] = (mod, k, p)
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent_buffers_set:
                    own[pre + k] = (mod, k, b)
            if type(mod).set_extra_state is not Module.set_extra_state:
                extra_mods[pre + "_extra_state"] = mod
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own and k not in extra_mods]
        mismatched = []
        for k, (_mod, _name, cur) in own.items():
            if k in state_dict:
                v = state_dict[k]
                shape = tuple(v.shape)
                if shape != tuple(cur.shape):
                    mismatched.append(f"size mismatch for {k}: copying a param with shape {shape} from checkpoint, "
                                      f"the shape in current model is {tuple(cur.shape)}.")
        errors = []
        if strict:
            if missing:
                errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        errors.extend(mismatched)
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for k, (mod, name, cur) in own.items():
                if k not in state_dict:
                    continue
                v = state_dict[k]
                arr = v._data if isinstance(v, Tensor) else cur.xp.asarray(v)
                if assign:
                    if isinstance(cur, Parameter):
                        new = Parameter(Tensor._make(arr, False, None, 0), cur.requires_grad)
                        mod._parameters[name] = new
                    else:
                        mod._buffers[name] = Tensor._make(arr, False, None, 0)
                else:
                    cur._data[...] = arr.astype(cur._data.dtype, copy=False) if arr.dtype != cur._data.dtype else arr
        for k, mod in extra_mods.items():
            if k in state_dict:
                mod.set_extra_state(state_dict[k])
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ description

    def extra_repr(self):
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        child_lines = []
        for key, module in self._modules.items():
            mod_str = repr(module)
            mod_str = _addindent(mod_str, 2)
            child_lines.append("(" + key + "): " + mod_str)
        lines = lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra.split("\n")) == 1 and not child_lines:
                main += extra
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)


def _addindent(s, n):
    first, *rest = s.split("\n")
    if not rest:
        return s
    return first + "\n" + "\n".join(" " * n + line for line in rest)


class _DictHandle:
    def __init__(self, d, key):
        self._d, self._k = d, key

    def remove(self):
        self._d.pop(self._k, None)


__all__ = ["Module", "_RemovableHandle"]
