"""tfdis_train's TensorFlow import skips Keras' optional pandas/sklearn
hooks, and leaves both importable afterwards."""

import subprocess
import sys


def test_import_tensorflow_hides_then_restores_optional_modules():
  code = (
      "import sys\n"
      "from tfdis import lean_import\n"
      "tf = lean_import.import_tensorflow()\n"
      "assert tf.__name__ == 'tensorflow'\n"
      "assert 'keras' in sys.modules\n"
      "assert not set(lean_import.KERAS_OPTIONAL) & set(sys.modules), "
      "sorted(set(lean_import.KERAS_OPTIONAL) & set(sys.modules))\n"
      "import pandas, sklearn  # importable again\n"
      "print('ok')\n")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.strip().endswith("ok")
