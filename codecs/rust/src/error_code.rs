#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ErrorCode {
    OK = 0x0_u8, 
    NOT_FOUND = 0x1_u8, 
    BAD_REQUEST = 0x2_u8, 
    HANDLER_ERROR = 0x3_u8, 
    PANIC = 0x4_u8, 
    TIMEOUT = 0x5_u8, 
    CANCELLED = 0x6_u8, 
    OVERLOADED = 0x7_u8, 
    WORKER_UNAVAILABLE = 0x8_u8, 
    TOO_LARGE = 0x9_u8, 
    VERSION_MISMATCH = 0xa_u8, 
    UNKNOWN = 0xb_u8, 
    #[default]
    NullVal = 0xff_u8, 
}
impl From<u8> for ErrorCode {
    #[inline]
    fn from(v: u8) -> Self {
        match v {
            0x0_u8 => Self::OK, 
            0x1_u8 => Self::NOT_FOUND, 
            0x2_u8 => Self::BAD_REQUEST, 
            0x3_u8 => Self::HANDLER_ERROR, 
            0x4_u8 => Self::PANIC, 
            0x5_u8 => Self::TIMEOUT, 
            0x6_u8 => Self::CANCELLED, 
            0x7_u8 => Self::OVERLOADED, 
            0x8_u8 => Self::WORKER_UNAVAILABLE, 
            0x9_u8 => Self::TOO_LARGE, 
            0xa_u8 => Self::VERSION_MISMATCH, 
            0xb_u8 => Self::UNKNOWN, 
            _ => Self::NullVal,
        }
    }
}
impl From<ErrorCode> for u8 {
    #[inline]
    fn from(v: ErrorCode) -> Self {
        match v {
            ErrorCode::OK => 0x0_u8, 
            ErrorCode::NOT_FOUND => 0x1_u8, 
            ErrorCode::BAD_REQUEST => 0x2_u8, 
            ErrorCode::HANDLER_ERROR => 0x3_u8, 
            ErrorCode::PANIC => 0x4_u8, 
            ErrorCode::TIMEOUT => 0x5_u8, 
            ErrorCode::CANCELLED => 0x6_u8, 
            ErrorCode::OVERLOADED => 0x7_u8, 
            ErrorCode::WORKER_UNAVAILABLE => 0x8_u8, 
            ErrorCode::TOO_LARGE => 0x9_u8, 
            ErrorCode::VERSION_MISMATCH => 0xa_u8, 
            ErrorCode::UNKNOWN => 0xb_u8, 
            ErrorCode::NullVal => 0xff_u8,
        }
    }
}
impl core::str::FromStr for ErrorCode {
    type Err = ();

    #[inline]
    fn from_str(v: &str) -> core::result::Result<Self, Self::Err> {
        match v {
            "OK" => Ok(Self::OK), 
            "NOT_FOUND" => Ok(Self::NOT_FOUND), 
            "BAD_REQUEST" => Ok(Self::BAD_REQUEST), 
            "HANDLER_ERROR" => Ok(Self::HANDLER_ERROR), 
            "PANIC" => Ok(Self::PANIC), 
            "TIMEOUT" => Ok(Self::TIMEOUT), 
            "CANCELLED" => Ok(Self::CANCELLED), 
            "OVERLOADED" => Ok(Self::OVERLOADED), 
            "WORKER_UNAVAILABLE" => Ok(Self::WORKER_UNAVAILABLE), 
            "TOO_LARGE" => Ok(Self::TOO_LARGE), 
            "VERSION_MISMATCH" => Ok(Self::VERSION_MISMATCH), 
            "UNKNOWN" => Ok(Self::UNKNOWN), 
            _ => Ok(Self::NullVal),
        }
    }
}
impl core::fmt::Display for ErrorCode {
    #[inline]
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OK => write!(f, "OK"), 
            Self::NOT_FOUND => write!(f, "NOT_FOUND"), 
            Self::BAD_REQUEST => write!(f, "BAD_REQUEST"), 
            Self::HANDLER_ERROR => write!(f, "HANDLER_ERROR"), 
            Self::PANIC => write!(f, "PANIC"), 
            Self::TIMEOUT => write!(f, "TIMEOUT"), 
            Self::CANCELLED => write!(f, "CANCELLED"), 
            Self::OVERLOADED => write!(f, "OVERLOADED"), 
            Self::WORKER_UNAVAILABLE => write!(f, "WORKER_UNAVAILABLE"), 
            Self::TOO_LARGE => write!(f, "TOO_LARGE"), 
            Self::VERSION_MISMATCH => write!(f, "VERSION_MISMATCH"), 
            Self::UNKNOWN => write!(f, "UNKNOWN"), 
            Self::NullVal => write!(f, "NullVal"),
        }
    }
}
