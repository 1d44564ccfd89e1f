#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Language {
    JAVA = 0x0_u8, 
    GO = 0x1_u8, 
    RUST = 0x2_u8, 
    #[default]
    NullVal = 0xff_u8, 
}
impl From<u8> for Language {
    #[inline]
    fn from(v: u8) -> Self {
        match v {
            0x0_u8 => Self::JAVA, 
            0x1_u8 => Self::GO, 
            0x2_u8 => Self::RUST, 
            _ => Self::NullVal,
        }
    }
}
impl From<Language> for u8 {
    #[inline]
    fn from(v: Language) -> Self {
        match v {
            Language::JAVA => 0x0_u8, 
            Language::GO => 0x1_u8, 
            Language::RUST => 0x2_u8, 
            Language::NullVal => 0xff_u8,
        }
    }
}
impl core::str::FromStr for Language {
    type Err = ();

    #[inline]
    fn from_str(v: &str) -> core::result::Result<Self, Self::Err> {
        match v {
            "JAVA" => Ok(Self::JAVA), 
            "GO" => Ok(Self::GO), 
            "RUST" => Ok(Self::RUST), 
            _ => Ok(Self::NullVal),
        }
    }
}
impl core::fmt::Display for Language {
    #[inline]
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::JAVA => write!(f, "JAVA"), 
            Self::GO => write!(f, "GO"), 
            Self::RUST => write!(f, "RUST"), 
            Self::NullVal => write!(f, "NullVal"),
        }
    }
}
