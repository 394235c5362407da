"""Every public function, class and method of srgan_lib has a docstring that says where the
book explains it (d2l's "Defined in", the other way round)."""

import importlib
import inspect
import pkgutil
import re

import pytest

import srgan_lib

MODULES = [importlib.import_module(f"srgan_lib.{m.name}")
           for m in pkgutil.iter_modules(srgan_lib.__path__)]
PUBLIC = [(module.__name__, name, getattr(module, name))
          for module in MODULES for name in getattr(module, "__all__", [])
          if inspect.isfunction(getattr(module, name)) or inspect.isclass(getattr(module, name))]


def test_every_module_declares_its_public_names():
    for module in MODULES:
        assert module.__doc__, f"{module.__name__} has no module docstring"
        assert hasattr(module, "__all__"), f"{module.__name__} has no __all__"
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.__all__ names missing {name}"


@pytest.mark.parametrize("module, name, obj", PUBLIC, ids=[f"{m}.{n}" for m, n, _ in PUBLIC])
def test_public_object_has_docstring_with_book_reference(module, name, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{module}.{name} has no docstring"
    assert re.search(r"Explained in: book/\d\d_\w+\.ipynb", doc), \
        f"{module}.{name}: docstring lacks 'Explained in: book/NN_topic.ipynb'"
    if inspect.isclass(obj):
        for method_name, method in vars(obj).items():
            if inspect.isfunction(method) and not method_name.startswith("_"):
                assert inspect.getdoc(method), f"{module}.{name}.{method_name} has no docstring"


def test_public_objects_are_found():
    # Guards the test above against silently checking nothing.
    names = {n for _, n, _ in PUBLIC}
    assert {"SRResNet", "convert_image", "psnr", "load_weights", "TruncatedVGG19"} <= names
