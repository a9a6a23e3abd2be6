"""Python reads this file at start-up when its folder is on PYTHONPATH: TensorFlow then cannot be found or
imported, as on Python 3.14 and Intel Macs, which TensorFlow 2.21 has no wheels for
(tests/test_without_tensorflow.py)."""

import sys


class NoTensorFlow:
    """A finder, asked before the others, that says TensorFlow is not installed (and leaves ``sys.modules`` as
    it is, where Keras looks to see whether TensorFlow was imported)."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoTensorFlow())
