//! Turning drawn frames into files: RGB buffers for PNG and GIF, strings
//! for SVG.
//!
//! Frames are drawn into memory (not straight into files) so that many can
//! be drawn in parallel and the encoder settings are ours: PNG with fast
//! compression for frame sequences (see [`encode_png`]), and GIF with one global
//! palette built from the theme, so that every frame of an animation maps
//! its pixels with a table lookup instead of a colour quantiser per frame.

use plotters::prelude::*;

use crate::render::plot::{colormap, de, draw_frame, DrawError, FrameData, PlotStyle, Theme};

/// Draw a frame into a new RGB buffer (`w * h * 3` bytes).
pub fn render_rgb(
    frame: &FrameData<'_>,
    style: &PlotStyle,
    (w, h): (u32, u32),
) -> Result<Vec<u8>, DrawError> {
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw_frame(&root, frame, style)?;
        root.present().map_err(de)?;
    }
    Ok(buf)
}

/// Draw a frame as an SVG document.
pub fn render_svg(
    frame: &FrameData<'_>,
    style: &PlotStyle,
    (w, h): (u32, u32),
) -> Result<String, DrawError> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
        draw_frame(&root, frame, style)?;
        root.present().map_err(de)?;
    }
    Ok(s)
}

/// Encode an RGB buffer as PNG. `small` trades time for size: on a
/// 960×540 plot, the fast setting takes 2 ms for 185 KB and the default
/// one 22 ms for 66 KB (the "up" filter suits plots' long vertical runs
/// best in both). Replays use the fast one for frame sequences and the
/// small one for a single image.
pub fn encode_png(rgb: &[u8], (w, h): (u32, u32), small: bool) -> Result<Vec<u8>, DrawError> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_filter(png::FilterType::Up);
        enc.set_compression(if small {
            png::Compression::Default
        } else {
            png::Compression::Fast
        });
        let mut wr = enc.write_header().map_err(de)?;
        wr.write_image_data(rgb).map_err(de)?;
    }
    Ok(out)
}

/// The 256-colour palette of a GIF: the theme's own colours exactly, a
/// 6×6×6 colour cube, 16 samples of the heatmap colour map and 16 greys
/// for anti-aliased text.
pub struct GifPalette {
    rgb: Vec<u8>,
    exact: Vec<([u8; 3], u8)>,
}

impl GifPalette {
    /// The palette for `theme`.
    pub fn new(theme: &Theme) -> Self {
        let mut rgb = Vec::with_capacity(768);
        let mut exact = Vec::new();
        for c in [
            theme.bg,
            theme.fg,
            theme.grid,
            theme.line,
            theme.line2,
            theme.bad,
            theme.raised,
            theme.frame,
        ] {
            exact.push(([c.0, c.1, c.2], (rgb.len() / 3) as u8));
            rgb.extend_from_slice(&[c.0, c.1, c.2]);
        }
        for r in 0..6u8 {
            for g in 0..6u8 {
                for b in 0..6u8 {
                    rgb.extend_from_slice(&[r * 51, g * 51, b * 51]);
                }
            }
        }
        // 16 samples of the heatmap colour map, then 16 greys (text edges).
        for i in 0..16 {
            let c = colormap(f64::from(i) / 15.0);
            rgb.extend_from_slice(&[c.0, c.1, c.2]);
        }
        for i in 0..16u32 {
            let v = (i * 255 / 15) as u8;
            rgb.extend_from_slice(&[v, v, v]);
        }
        GifPalette { rgb, exact }
    }

    fn dist(&self, i: usize, p: [u8; 3]) -> u32 {
        (0..3)
            .map(|k| {
                let d = i32::from(self.rgb[i * 3 + k]) - i32::from(p[k]);
                (d * d) as u32
            })
            .sum()
    }

    /// Palette index of a colour: exact theme colours first, else the
    /// nearest of its colour-cube entry, the colour-map samples and the greys.
    fn index(&self, p: [u8; 3]) -> u8 {
        if let Some((_, i)) = self.exact.iter().find(|(c, _)| *c == p) {
            return *i;
        }
        let q = |v: u8| (u16::from(v) + 25) / 51;
        let mut best = 8 + (q(p[0]) * 36 + q(p[1]) * 6 + q(p[2])) as usize;
        let mut best_d = self.dist(best, p);
        for i in 224..256 {
            let d = self.dist(i, p);
            if d < best_d {
                best = i;
                best_d = d;
            }
        }
        best as u8
    }

    /// The palette bytes (768).
    pub fn bytes(&self) -> &[u8] {
        &self.rgb
    }

    /// Map an RGB buffer to palette indices.
    pub fn map(&self, rgb: &[u8]) -> Vec<u8> {
        let mut last = ([0u8; 3], None::<u8>);
        rgb.chunks_exact(3)
            .map(|c| {
                let p = [c[0], c[1], c[2]];
                if last.1.is_some() && last.0 == p {
                    return last.1.unwrap_or(0);
                }
                let i = self.index(p);
                last = (p, Some(i));
                i
            })
            .collect()
    }
}

/// Writes an animated GIF frame by frame.
pub struct GifWriter<W: std::io::Write> {
    enc: gif::Encoder<W>,
    size: (u16, u16),
}

impl<W: std::io::Write> GifWriter<W> {
    /// Start an animation of `w`×`h` (at most 65535 each) looping forever.
    pub fn new(out: W, (w, h): (u32, u32), palette: &GifPalette) -> Result<Self, DrawError> {
        let size = (
            u16::try_from(w).map_err(|_| DrawError(format!("GIF width {w} over 65535")))?,
            u16::try_from(h).map_err(|_| DrawError(format!("GIF height {h} over 65535")))?,
        );
        let mut enc = gif::Encoder::new(out, size.0, size.1, palette.bytes()).map_err(de)?;
        enc.set_repeat(gif::Repeat::Infinite).map_err(de)?;
        Ok(GifWriter { enc, size })
    }

    /// Append a frame of palette indices shown for `delay_cs` hundredths of a second.
    pub fn frame(&mut self, indices: &[u8], delay_cs: u16) -> Result<(), DrawError> {
        let f = gif::Frame {
            width: self.size.0,
            height: self.size.1,
            delay: delay_cs,
            buffer: std::borrow::Cow::Borrowed(indices),
            ..gif::Frame::default()
        };
        self.enc.write_frame(&f).map_err(de)
    }

    /// Write the GIF trailer and flush the output.
    pub fn finish(self) -> Result<(), DrawError> {
        let mut w = self.enc.into_inner().map_err(de)?;
        w.flush().map_err(de)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theme_colours_map_exactly_and_others_nearby() {
        let p = GifPalette::new(&Theme::LIGHT);
        assert_eq!(p.bytes().len(), 768);
        let c = Theme::LIGHT.line;
        let i = p.index([c.0, c.1, c.2]) as usize;
        assert_eq!(&p.bytes()[i * 3..i * 3 + 3], &[c.0, c.1, c.2]);
        let j = p.index([100, 101, 99]) as usize;
        let got = &p.bytes()[j * 3..j * 3 + 3];
        assert!(
            got.iter().all(|&v| (i32::from(v) - 100).abs() <= 8),
            "{got:?}"
        );
    }
}
