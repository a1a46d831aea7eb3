//! Lon/lat ↔ metres: areas are measured on a plane, in a 3° Gauss-Krüger zone
//! (transverse Mercator on the CGCS2000 ellipsoid, which is GRS80: at the metre level the
//! same as WGS84 for this use), the zone whose central meridian is nearest the
//! blueprint's centre. proj4rs does the arithmetic (a pure-Rust port of PROJ).
//!
//! Coordinates are GeoJSON's: longitude first. EPSG:4490 declares latitude first, and a
//! file written in that order puts every point outside China: [`check_lon_lat`] says so
//! instead of computing areas on the other side of the world.

use proj4rs::proj::Proj;

/// China's extent with a margin: a coordinate outside it is not a city's plan.
const LON: std::ops::RangeInclusive<f64> = 73.0..=136.0;
const LAT: std::ops::RangeInclusive<f64> = 3.0..=54.0;

/// What is wrong with a coordinate, for a diagnostic.
pub fn check_lon_lat(lon: f64, lat: f64) -> Result<(), String> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err("a coordinate is not a finite number".into());
    }
    if LON.contains(&lon) && LAT.contains(&lat) {
        return Ok(());
    }
    if LON.contains(&lat) && LAT.contains(&lon) {
        return Err(format!(
            "({lon}, {lat}) is outside China, but ({lat}, {lon}) is inside: the axes are swapped \
             (latitude first, as EPSG:4490 declares); GeoJSON is longitude first"
        ));
    }
    Err(format!(
        "({lon}, {lat}) is outside China (longitude {}–{}, latitude {}–{})",
        LON.start(),
        LON.end(),
        LAT.start(),
        LAT.end()
    ))
}

/// One projected plane: a 3° Gauss-Krüger zone.
pub struct Zone {
    /// The central meridian, degrees east.
    pub central_meridian: f64,
    tm: Proj,
    geographic: Proj,
}

impl std::fmt::Debug for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Zone(CM {}°E)", self.central_meridian)
    }
}

impl Zone {
    /// The 3° zone whose central meridian is nearest `lon`.
    ///
    /// # Panics
    /// Never: the projection strings are fixed and valid.
    pub fn around(lon: f64) -> Zone {
        let central_meridian = (lon / 3.0).round() * 3.0;
        let tm = Proj::from_proj_string(&format!(
            "+proj=tmerc +lat_0=0 +lon_0={central_meridian} +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
        ))
        .expect("a valid transverse Mercator definition");
        let geographic = Proj::from_proj_string("+proj=longlat +ellps=GRS80 +no_defs")
            .expect("a valid geographic definition");
        Zone {
            central_meridian,
            tm,
            geographic,
        }
    }

    /// Degrees → metres on the zone's plane (`None` if the projection fails).
    pub fn forward(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        let mut p = (lon.to_radians(), lat.to_radians(), 0.0);
        proj4rs::transform::transform(&self.geographic, &self.tm, &mut p).ok()?;
        (p.0.is_finite() && p.1.is_finite()).then_some((p.0, p.1))
    }

    /// Metres on the zone's plane → degrees.
    pub fn inverse(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let mut p = (x, y, 0.0);
        proj4rs::transform::transform(&self.tm, &self.geographic, &mut p).ok()?;
        let (lon, lat) = (p.0.to_degrees(), p.1.to_degrees());
        (lon.is_finite() && lat.is_finite()).then_some((lon, lat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kilometre_is_a_kilometre_and_back() {
        let z = Zone::around(113.8);
        assert_eq!(z.central_meridian, 114.0);
        let (x0, y0) = z.forward(113.8, 34.0).unwrap();
        // One minute of latitude is about 1,849 m at 34°N.
        let (x1, y1) = z.forward(113.8, 34.0 + 1.0 / 60.0).unwrap();
        let d = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
        assert!((d - 1849.0).abs() < 5.0, "{d}");
        let (lon, lat) = z.inverse(x0, y0).unwrap();
        assert!((lon - 113.8).abs() < 1e-9 && (lat - 34.0).abs() < 1e-9);
    }

    #[test]
    fn swapped_axes_are_named() {
        assert!(check_lon_lat(113.8, 34.0).is_ok());
        assert!(check_lon_lat(34.0, 113.8).unwrap_err().contains("swapped"));
        assert!(check_lon_lat(2.35, 48.85)
            .unwrap_err()
            .contains("outside China"));
        assert!(check_lon_lat(f64::NAN, 1.0).is_err());
    }
}
