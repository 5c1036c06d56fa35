"""The built-in job kinds, one folder each (its parameters and run function, its metric names,
its report section and template fragment). Importing this package registers them, in the
order the report shows them: the lecture's order, representations first."""

# registration order is page order, so these imports stay in the lecture's order
from bench.kinds import representation  # noqa: I001, F401
from bench.kinds import attribution  # noqa: F401
from bench.kinds import agreement  # noqa: F401
from bench.kinds import quality  # noqa: F401
from bench.kinds import gallery  # noqa: F401
from bench.kinds import stress  # noqa: F401
from bench.kinds import toy  # noqa: F401
from bench.kinds import dimension  # noqa: F401
from bench.kinds import robustness  # noqa: F401
from bench.kinds import minimal  # noqa: F401
from bench.kinds import examples  # noqa: F401
from bench.kinds import fooling  # noqa: F401
from bench.kinds import sanity  # noqa: F401
