# probe-modules: numpy.polynomial.polynomial numpy.polynomial.polyutils
# probe-volatile: polynomial.py:prd@lhs polynomial.py:prd@rhs polynomial.py:der@lhs polynomial.py:der@rhs polynomial.py:tmp@lhs polynomial.py:tmp@rhs polynomial.py:v@lhs polynomial.py:v@rhs polyutils.py:tmp@lhs polyutils.py:tmp@rhs polyutils.py:quo@lhs polyutils.py:quo@rhs
# (np.empty: memory the recorder's own NumPy use may have left differently;
# read back through the name too, e.g. `v[1] = x` after `v = np.empty(...)`)
# NumPy's pure-Python polynomial module: fit, evaluate, differentiate.
import numpy as np
from numpy.polynomial import polynomial as P

x = np.linspace(-1, 1, 9)
y = 1 - 2 * x + 0.5 * x ** 3
c = P.polyfit(x, y, 3)
print(np.round(c, 6), P.polyval(0.5, c), P.polyder(c), P.polyint([1, 2, 3], k=[1]))
print(P.polyadd([1, 2], [3, 4, 5]), P.polymul([1, 1], [1, -1]), P.polydiv([1, 0, -1], [1, 1]))
print(np.sort_complex(P.polyroots([6, -5, 1])), P.polyfromroots([1, 2]), P.polyvander([1.0, 2.0], 2))
print(P.polyval2d(1.0, 2.0, [[1, 2], [3, 4]]), P.polyline(3, 4), P.polypow([1, 1], 3))
