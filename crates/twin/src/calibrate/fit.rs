//! Fitting a duration distribution to observed durations: each family the scenario format
//! knows is fitted (maximum likelihood where it has a closed form, moments where it does
//! not), and the one closest to the data by the Kolmogorov–Smirnov distance is chosen.
//!
//! Why KS rather than a likelihood criterion: uniform and triangular put zero density
//! outside their range, so one observation beyond it makes the likelihood zero whatever
//! the rest; the KS distance compares every family on the same footing (the largest gap
//! between the fitted and the empirical distribution functions) and is what the report
//! prints as the goodness of fit. Its p-value is the asymptotic Kolmogorov one, which is
//! optimistic when the parameters come from the same data (Lilliefors): a small p means
//! a poor fit, a large one does not prove a good one.

use onewindow_simulate::dist::{Dist, Of, Shape};

/// Fewer observations than this: no fit, the default stays.
pub const MIN_OBSERVATIONS: usize = 10;

/// A fitted distribution and how well it fits.
#[derive(Debug, Clone)]
pub struct Fit {
    /// The chosen distribution, in working days.
    pub dist: Dist,
    /// The observations it was fitted to.
    pub n: usize,
    /// Their mean and standard deviation, working days.
    pub mean: f64,
    /// Standard deviation.
    pub sd: f64,
    /// The KS distance of the chosen family.
    pub ks: f64,
    /// Its asymptotic p-value.
    pub p: f64,
    /// Every candidate family with its KS distance, best first.
    pub candidates: Vec<(&'static str, f64)>,
}

/// Summary statistics.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Fits `xs` (working days, any order); `None` below [`MIN_OBSERVATIONS`] or when a
/// value is not a finite non-negative number.
pub fn fit(xs: &[f64]) -> Option<Fit> {
    if xs.len() < MIN_OBSERVATIONS || xs.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return None;
    }
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let (mean, sd) = mean_sd(&s);
    let n = s.len();
    let (lo, hi) = (s[0], s[n - 1]);
    // A constant (to a working minute): nothing else to fit.
    if hi - lo < 1.0 / crate::clock::DAY as f64 {
        return Some(Fit {
            dist: days(Shape::Fixed(round(mean))),
            n,
            mean,
            sd,
            ks: 0.0,
            p: 1.0,
            candidates: vec![("fixed", 0.0)],
        });
    }
    // The range widened by one expected gap at each end (the minimum-variance unbiased
    // estimate of a uniform's bounds), so the extremes are not the bounds themselves.
    let gap = (hi - lo) / (n as f64 - 1.0);
    let (a, b) = ((lo - gap).max(0.0), hi + gap);
    let mut families: Vec<(&'static str, Shape)> = vec![
        ("exponential", Shape::Exponential { mean: round(mean) }),
        ("uniform", Shape::Uniform([round(a), round(b)])),
        (
            "triangular",
            Shape::Triangular([round(a), round((3.0 * mean - a - b).clamp(a, b)), round(b)]),
        ),
    ];
    if lo > 0.0 {
        // Maximum likelihood on the logarithms, written as the duration's own mean and
        // standard deviation (the scenario's form).
        let logs: Vec<f64> = s.iter().map(|x| x.ln()).collect();
        let (mu, sigma) = mean_sd(&logs);
        let m = (mu + sigma * sigma / 2.0).exp();
        let sdev = m * ((sigma * sigma).exp() - 1.0).sqrt();
        families.push((
            "lognormal",
            Shape::Lognormal {
                mean: round(m),
                sd: round(sdev),
            },
        ));
    }
    let mut scored: Vec<(&'static str, Shape, f64)> = families
        .into_iter()
        .map(|(name, shape)| {
            let d = ks(&s, |x| cdf(&shape, x));
            (name, shape, d)
        })
        .collect();
    scored.sort_by(|x, y| x.2.total_cmp(&y.2));
    let (_, shape, d) = scored[0].clone();
    Some(Fit {
        dist: days(shape),
        n,
        mean,
        sd,
        ks: d,
        p: kolmogorov_p(d, n),
        candidates: scored.iter().map(|(name, _, d)| (*name, *d)).collect(),
    })
}

fn days(shape: Shape) -> Dist {
    Dist {
        shape,
        of: Of::Days,
    }
}

/// Four significant decimals: what a person reads in the scenario.
fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A shape's distribution function (working days), as the simulator samples it.
pub fn cdf(shape: &Shape, x: f64) -> f64 {
    if x < 0.0 {
        return 0.0;
    }
    match *shape {
        Shape::Fixed(v) => f64::from(u8::from(x >= v)),
        Shape::Uniform([a, b]) => ((x - a) / (b - a)).clamp(0.0, 1.0),
        Shape::Triangular([a, c, b]) => {
            if x <= a {
                0.0
            } else if x >= b {
                1.0
            } else if x <= c {
                (x - a).powi(2) / ((b - a) * (c - a))
            } else {
                1.0 - (b - x).powi(2) / ((b - a) * (b - c))
            }
        }
        Shape::Lognormal { mean, sd } => {
            if x <= 0.0 {
                return 0.0;
            }
            let s2 = (1.0 + (sd / mean).powi(2)).ln();
            let mu = mean.ln() - s2 / 2.0;
            0.5 * libm::erfc(-(x.ln() - mu) / (s2.sqrt() * std::f64::consts::SQRT_2))
        }
        Shape::Exponential { mean } => 1.0 - (-x / mean).exp(),
    }
}

/// The Kolmogorov–Smirnov distance between sorted `s` and `f`.
pub fn ks(s: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let n = s.len() as f64;
    s.iter()
        .enumerate()
        .map(|(i, &x)| {
            let fx = f(x);
            (fx - i as f64 / n)
                .abs()
                .max(((i + 1) as f64 / n - fx).abs())
        })
        .fold(0.0, f64::max)
}

/// The asymptotic p-value of a KS distance `d` over `n` observations (Stephens' form).
pub fn kolmogorov_p(d: f64, n: usize) -> f64 {
    let sn = (n as f64).sqrt();
    let lambda = (sn + 0.12 + 0.11 / sn) * d;
    if lambda < 0.2 {
        return 1.0;
    }
    let mut p = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = (-2.0 * k * k * lambda * lambda).exp();
        p += if k as u32 % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    (2.0 * p).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn draw(d: &Dist, n: usize) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        (0..n).map(|_| d.sample(&mut rng, 0.0)).collect()
    }

    #[test]
    fn each_family_is_recognised_from_its_own_draws() {
        for shape in [
            Shape::Exponential { mean: 4.0 },
            Shape::Uniform([2.0, 6.0]),
            Shape::Triangular([1.0, 2.0, 9.0]),
            Shape::Lognormal {
                mean: 12.0,
                sd: 5.0,
            },
        ] {
            let truth = days(shape.clone());
            let xs = draw(&truth, 3000);
            let f = fit(&xs).expect("enough observations");
            assert_eq!(
                std::mem::discriminant(&f.dist.shape),
                std::mem::discriminant(&shape),
                "{shape:?} fitted as {:?} ({:?})",
                f.dist.shape,
                f.candidates
            );
            let m = f.dist.mean();
            assert!((m - truth.mean()).abs() / truth.mean() < 0.05, "{m}");
            assert!(f.p > 0.01, "{shape:?}: p {}", f.p);
        }
    }

    #[test]
    fn too_few_or_impossible_observations_are_not_fitted() {
        assert!(fit(&[1.0; 9]).is_none());
        assert!(fit(&[1.0, 2.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]).is_none());
        assert!(fit(&[f64::NAN; 20]).is_none());
        let constant = fit(&[3.0; 12]).unwrap();
        assert_eq!(constant.dist.shape, Shape::Fixed(3.0));
    }

    #[test]
    fn the_p_value_falls_as_the_distance_grows() {
        assert!(kolmogorov_p(0.01, 100) > 0.99);
        assert!(kolmogorov_p(0.2, 100) < 0.001);
        let p = kolmogorov_p(0.136, 100); // about the 5 % critical value
        assert!((0.03..0.07).contains(&p), "{p}");
    }
}
