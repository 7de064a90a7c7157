//! How much of its line peers a server can see: the input of quorum rules.

/// Systems a server sees, itself included, out of itself and its line peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visibility {
    /// Itself plus line peers not lost.
    pub visible: u32,
    /// Itself plus all its line peers.
    pub electorate: u32,
}

impl Visibility {
    /// Whether it sees a strict majority.
    pub fn majority(&self) -> bool {
        self.visible * 2 > self.electorate
    }

    /// Counts `lost` flags of the line peers.
    pub fn from_lost(lost: impl IntoIterator<Item = bool>) -> Visibility {
        let (mut visible, mut electorate) = (1, 1);
        for l in lost {
            electorate += 1;
            visible += u32::from(!l);
        }
        Visibility {
            visible,
            electorate,
        }
    }
}
