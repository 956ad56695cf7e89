# probe-modules: numpy.lib._function_base_impl|numpy.lib.function_base
# NumPy's pure-Python function_base: interp, gradient, diff, trapezoid,
# percentile, median, and friends.
# gradient() reads `out` (np.empty_like) before filling its last element:
# that element is whatever the allocator left there, in every run.
# probe-volatile: _function_base_impl.py:out@lhs _function_base_impl.py:out@rhs function_base.py:out@lhs function_base.py:out@rhs
import numpy as np

x = np.array([0.0, 1.0, 2.0, 4.0, 7.0])
y = x ** 2
print(np.interp([0.5, 3.0, 10.0], x, y), np.gradient(y), np.gradient(y, x), np.diff(y, n=2))
trap = getattr(np, "trapezoid", None) or np.trapz
print(trap(y, x), np.percentile(y, [10, 50, 90]), np.median([3, 1, 4, 1, 5]), np.quantile(x, 0.25))
print(np.average([1, 2, 3], weights=[3, 2, 1]), np.cov([1, 2, 3], [1, 0, 2]), np.corrcoef([1, 2, 3], [2, 4, 7]))
print(np.unwrap([0, 3, 6.5, 0.2]), np.sinc([0, 0.5]), np.i0([0.0, 1.0]), np.angle([1j, -1]))
print(np.select([x < 2, x > 5], [x, -x], 0), np.piecewise(x, [x < 2], [lambda v: v * 10, 0]), np.trim_zeros(np.array([0, 1, 2, 0])))
print(np.meshgrid([1, 2], [3, 4, 5])[1], np.delete(np.arange(6), [1, 3]), np.insert(np.arange(4), 2, 9), np.append([1], [[2]]))
print(np.hamming(4), np.kaiser(3, 2.0), np.flip(np.arange(4)), np.rot90(np.arange(4).reshape(2, 2)), np.digitize([0.5, 3.0], x))
