//! Statistics every report of the project shares: the load generators' latencies and the
//! simulator's distributions use the same percentile, so their figures compare.

/// The `q`-quantile of sorted values by the nearest-rank method (the smallest value with
/// at least a share `q` of the values at or below it); `None` when there are none. Every
/// percentile the project reports (load generators, the simulator) is this one.
pub fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let k = ((sorted.len() as f64) * q).ceil() as usize;
    (!sorted.is_empty()).then(|| sorted[k.clamp(1, sorted.len()) - 1])
}
