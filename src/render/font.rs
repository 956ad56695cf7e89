//! The bundled font. Plots must render text on a machine with no fonts
//! installed (a CI container), so the binary carries DejaVu Sans
//! (`assets/fonts/`, licence beside it) and registers it with plotters'
//! `ab_glyph` backend, which needs no fontconfig.

use std::sync::Once;

use plotters::style::{register_font, FontStyle};

/// DejaVu Sans, embedded.
const DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name every plot uses; registered by [`ensure_registered`].
pub const FAMILY: &str = "sans-serif";

static REGISTER: Once = Once::new();

/// Register the bundled font under [`FAMILY`] for every style plotters asks
/// for (once per process; cheap afterwards).
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            // The font is a valid TrueType file compiled into the binary;
            // registration fails only on unparseable bytes, which a test checks.
            let _ = register_font(FAMILY, style, DEJAVU_SANS);
        }
    });
}

#[cfg(test)]
mod tests {
    use plotters::prelude::*;

    use super::*;

    /// Text drawn with the bundled font changes pixels: proof that glyphs
    /// render without any system font.
    #[test]
    fn bundled_font_draws_text() {
        ensure_registered();
        let (w, h) = (120u32, 40u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            root.draw(&Text::new("probe 123", (5, 10), (FAMILY, 20).into_font()))
                .expect("draw text");
            root.present().expect("present");
        }
        let dark = buf.iter().filter(|&&b| b < 128).count();
        assert!(dark > 50, "only {dark} dark bytes: text did not render");
    }
}
