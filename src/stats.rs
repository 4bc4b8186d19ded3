//! Statistics for both domains (`docs/insights.md`, "Failure analysis: how sure a rate is" and
//! "Daily report: what changed"): the 95 % Wilson interval of a rate, the pooled
//! two-proportion z-test, the median, rounding to 2 decimals, and whole numbers written as
//! JSON integers. Pure functions over counts (`u64`) and `f64`.

use serde::Serializer;

/// z for a two-sided 95 % confidence level (the 97.5 % normal quantile).
pub const Z_95: f64 = 1.959964;

/// The 95 % Wilson score interval of `failed / total` (z = [`Z_95`]), as `(lower, upper)`
/// fractions clamped to 0.0–1.0; `(0, 1)` for `total == 0` (nothing is known).
///
/// With p = failed/total, n = total: `(p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n)`.
pub fn wilson_interval(failed: u64, total: u64) -> (f64, f64) {
    if total == 0 {
        return (0.0, 1.0);
    }
    let (n, z2) = (total as f64, Z_95 * Z_95);
    let p = failed as f64 / n;
    let centre = p + z2 / (2.0 * n);
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z2 / n;
    // At p = 0 (or 1) the centre equals the half width: clamp the rounding, keep the exact end.
    let lower = if failed == 0 {
        0.0
    } else {
        ((centre - half) / denominator).clamp(0.0, 1.0)
    };
    let upper = if failed == total {
        1.0
    } else {
        ((centre + half) / denominator).clamp(0.0, 1.0)
    };
    (lower, upper)
}

/// The pooled two-proportion z statistic of `x1/n1` against `x2/n2`: `(p1 − p2) / √(p(1−p)
/// (1/n1 + 1/n2))` with `p = (x1 + x2) / (n1 + n2)`. `None` when either `n` is 0 or the pooled
/// rate is 0 or 1 (no variance: the rates are equal).
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (x1, n1, x2, n2) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let p = (x1 + x2) / (n1 + n2);
    let se = (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt();
    (se > 0.0).then(|| (x1 / n1 - x2 / n2) / se)
}

/// Whether a two-sided two-proportion z-test at 95 % rejects `x1/n1 == x2/n2`:
/// |[`two_proportion_z`]| > [`Z_95`]. `false` when the statistic is undefined.
pub fn rates_differ(x1: u64, n1: u64, x2: u64, n2: u64) -> bool {
    two_proportion_z(x1, n1, x2, n2).is_some_and(|z| z.abs() > Z_95)
}

/// The median of the finite `values` (the mean of the middle two for an even count); `None`
/// when there is none.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// Rounds to 2 decimals, half away from zero, without a negative zero; NaN and infinities
/// become 0.
pub fn round2(x: f64) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let r = (x * 100.0).round() / 100.0;
    if r == 0.0 { 0.0 } else { r }
}

/// The largest whole number written as a JSON integer: 2^53 − 1 (JavaScript's
/// `Number.MAX_SAFE_INTEGER`). Every integer up to it is exactly a double, so a reader that
/// parses JSON numbers as doubles (JavaScript, most JSON libraries) reads back exactly the
/// integer written, and `x as i64` is exact; past it, not every integer is a double, so a
/// value stays as `serde_json` writes a float.
pub const MAX_JSON_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Serializes a whole number as a JSON integer (`12`, not `12.0`) when its magnitude is at most
/// [`MAX_JSON_INTEGER`], anything else as a float (NaN and infinities as `null`, as
/// `serde_json` writes them). For `#[serde(serialize_with = "crate::stats::whole_as_integer")]`.
pub fn whole_as_integer<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.fract() == 0.0 && x.abs() <= MAX_JSON_INTEGER {
        s.serialize_i64(*x as i64)
    } else {
        s.serialize_f64(*x)
    }
}

/// [`whole_as_integer`] of an optional number; `None` as `null`.
pub fn option_whole_as_integer<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => whole_as_integer(x, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |a − b| < 1e-9.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Expected values: the roots p of the Wilson quadratic
    /// (n + z²)·p² − (2k + z²)·p + k²/n = 0, z = 1.959964, worked out separately
    /// (python: `((b ∓ sqrt(b² − 4ac)) / 2a` with a = n + z², b = 2k + z², c = k²/n), not with
    /// the closed form the code uses.
    #[test]
    fn wilson_intervals_match_hand_computed_values() {
        let cases = [
            // (failed, total, lower, upper)
            (0, 1, 0.0, 0.793_450_688_208),
            (1, 1, 0.206_549_311_792, 1.0),
            (0, 5, 0.0, 0.434_482_468_659),
            (5, 5, 0.565_517_531_341, 1.0),
            (3, 10, 0.107_791_266_556, 0.603_221_854_654),
            (4, 8, 0.215_216_060_696, 0.784_783_939_304),
            (288, 288, 0.986_837_172_155, 1.0),
            (3, 29, 0.035_814_891_071, 0.263_850_812_479),
        ];
        for (k, n, lower, upper) in cases {
            let (l, u) = wilson_interval(k, n);
            assert!(close(l, lower) && close(u, upper), "{k}/{n}: ({l}, {u})");
        }
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
    }

    /// z values worked out by hand: pooled p = (x1 + x2)/(n1 + n2),
    /// z = (x1/n1 − x2/n2) / √(p(1−p)(1/n1 + 1/n2)).
    #[test]
    fn two_proportion_test_just_below_and_just_above_significance() {
        // 20/100 vs 10/100: p = .15, se = √(.15·.85·.02) = .0504975…, z = .1/.0504975 = 1.98030
        assert!(close(
            two_proportion_z(20, 100, 10, 100).unwrap(),
            1.980_295_085_953
        ));
        assert!(rates_differ(20, 100, 10, 100));
        // 19/100 vs 10/100: p = .145, se = √(.145·.855·.02) = .0497946…, z = 1.80743 < 1.96
        assert!(close(
            two_proportion_z(19, 100, 10, 100).unwrap(),
            1.807_425_699_386
        ));
        assert!(!rates_differ(19, 100, 10, 100));
        // 45/200 vs 30/200: z = −1.9215 (not); 46/200 vs 30/200: z = −2.0393 (significant).
        assert!(!rates_differ(30, 200, 45, 200));
        assert!(rates_differ(30, 200, 46, 200));
        // 12/30 against 60/120: p = 72/150 = 0.48; se = √(0.48·0.52·(1/30 + 1/120)) = 0.101980;
        // z = (0.4 − 0.5) / 0.101980 = −0.98058.
        let z = two_proportion_z(12, 30, 60, 120).unwrap();
        assert!((z - -0.980_58).abs() < 1e-5, "{z}");
        // Undefined: no sessions, or every session failed (or none) in both windows.
        assert_eq!(two_proportion_z(0, 0, 1, 2), None);
        assert_eq!(two_proportion_z(1, 0, 1, 2), None);
        assert_eq!(two_proportion_z(3, 3, 5, 5), None);
        assert_eq!(two_proportion_z(0, 30, 0, 120), None);
        assert!(!rates_differ(0, 4, 0, 9));
    }

    #[test]
    fn the_median_of_odd_even_and_no_values() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn round2_is_half_away_from_zero_without_negative_zero() {
        assert_eq!(round2(1.005_000_1), 1.01);
        assert_eq!(round2(-2.345_000_1), -2.35);
        assert_eq!(round2(-0.001), 0.0);
        assert!(round2(-0.001).is_sign_positive());
        assert_eq!(round2(f64::NAN), 0.0);
        assert_eq!(round2(f64::INFINITY), 0.0);
    }

    #[test]
    fn whole_numbers_are_json_integers_up_to_2_pow_53() {
        #[derive(serde::Serialize)]
        struct N(#[serde(serialize_with = "whole_as_integer")] f64);
        let json = |x: f64| serde_json::to_string(&N(x)).unwrap();
        assert_eq!(json(12.0), "12");
        assert_eq!(json(-3.0), "-3");
        assert_eq!(json(12.5), "12.5");
        assert_eq!(json(MAX_JSON_INTEGER), "9007199254740991");
        assert_eq!(json(-MAX_JSON_INTEGER), "-9007199254740991");
        assert_eq!(json(2f64.powi(53)), "9007199254740992.0");
        assert_eq!(json(f64::NAN), "null");
        #[derive(serde::Serialize)]
        struct O(#[serde(serialize_with = "option_whole_as_integer")] Option<f64>);
        assert_eq!(serde_json::to_string(&O(Some(50.0))).unwrap(), "50");
        assert_eq!(serde_json::to_string(&O(None)).unwrap(), "null");
    }
}
