"""(Provisional; replaced by the run-safety branch.) User errors and the CLI wrapper."""

import sys

from absl import app


class UserError(Exception):
  user_facing = True


def run_main(main):
  def wrapped(argv):
    try:
      return main(argv)
    except Exception as e:  # noqa: BLE001
      if getattr(e, "user_facing", False) or isinstance(e, (ValueError,)):
        prog = sys.argv[0].rsplit("/", 1)[-1]
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
      raise
  app.run(wrapped)
