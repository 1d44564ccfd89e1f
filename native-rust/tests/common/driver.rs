//! A real media driver (Aeron's Java driver, in a child process), the worker binary, and a
//! client, for the tests that need them. The driver's jars are found, in order, in
//! `POLYBRIDGE_DRIVER_CLASSPATH`, `../media-driver/target/polybridge-media-driver-*-all.jar`
//! (`mvn -pl media-driver -am package -DskipTests`), or the local Maven repository (any Maven
//! build of the project puts aeron-driver 1.51.0 there); without them [`MediaDriver::start`]
//! says why and the test skips.
//!
//! Everything stops on drop, also when a test fails: the driver is SIGKILLed and its
//! directory removed, the worker killed.

use super::{decode_response, DecodedResponse};
use rusteron_client::{
    Aeron, AeronContext, AeronFragmentClosureAssembler, AeronHeader, AeronPublication, AeronSubscription,
    Handlers, AERON_IPC_STREAM,
};
use std::collections::HashMap;
use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const AERON_VERSION: &str = "1.51.0";
const AGRONA_VERSION: &str = "2.4.1";

fn classpath() -> Result<String, String> {
    if let Ok(classpath) = std::env::var("POLYBRIDGE_DRIVER_CLASSPATH") {
        return Ok(classpath);
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../media-driver/target");
    if let Ok(entries) = std::fs::read_dir(&target) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("polybridge-media-driver-") && name.ends_with("-all.jar") {
                return Ok(entry.path().display().to_string());
            }
        }
    }
    let repository = std::env::var("HOME").map(|home| PathBuf::from(home).join(".m2/repository")).unwrap_or_default();
    let jars = [
        format!("io/aeron/aeron-driver/{AERON_VERSION}/aeron-driver-{AERON_VERSION}.jar"),
        format!("io/aeron/aeron-client/{AERON_VERSION}/aeron-client-{AERON_VERSION}.jar"),
        format!("org/agrona/agrona/{AGRONA_VERSION}/agrona-{AGRONA_VERSION}.jar"),
    ]
    .map(|jar| repository.join(jar));
    if jars.iter().all(|jar| jar.exists()) {
        return Ok(jars.map(|jar| jar.display().to_string()).join(":"));
    }
    Err(format!(
        "no Java media driver: set POLYBRIDGE_DRIVER_CLASSPATH, build media-driver (mvn -pl media-driver -am \
         package -DskipTests), or run any Maven build so that {} exists",
        jars[0].display()
    ))
}

/// Aeron's Java media driver in a child process, with 64 KiB IPC terms (192 KiB of shared
/// memory per publication, so that a test may add many) and polybridge's 100 ms timer.
/// The Rust worker's default request stream, and the reply and control streams of the worker tests.
pub const REQUESTS: i32 = 200;
pub const REPLIES: i32 = 1000;
pub const CONTROL: i32 = 10;
/// How long a worker may take to start serving, and a client to hear its announcement.
pub const STARTUP: Duration = Duration::from_secs(30);

pub struct MediaDriver {
    child: Option<Child>,
    pub dir: String,
}

impl MediaDriver {
    /// Starts a driver and waits until a client has used it; `None` (after saying why on
    /// stderr) when there is no Java driver to start.
    pub fn start(tag: &str) -> Option<Self> {
        let classpath = match classpath() {
            Ok(classpath) => classpath,
            Err(why) => {
                eprintln!("skipped: {why}");
                return None;
            }
        };
        let dir = format!("/dev/shm/pb-rust-test-{}-{tag}", std::process::id());
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("driver-{tag}.log"));
        let log = std::fs::File::create(&log).expect("driver log file");
        let child = Command::new("java")
            .args(["--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED"])
            .args(["-XX:+UseSerialGC", "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", &classpath])
            .arg(format!("-Daeron.dir={dir}"))
            .args(["-Daeron.ipc.term.buffer.length=65536", "-Daeron.threading.mode=SHARED"])
            // Heartbeats every 100 ms, as polybridge's drivers do (Aeron's default is 1 s).
            .arg("-Daeron.timer.interval=100ms")
            .args(["-Daeron.dir.delete.on.start=true", "-Daeron.dir.delete.on.shutdown=true"])
            .arg("io.aeron.driver.MediaDriver")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start java (a JDK 17+ is needed)");
        let driver = Self { child: Some(child), dir };
        let cnc = Path::new(&driver.dir).join("cnc.dat");
        let give_up = Instant::now() + Duration::from_secs(60);
        while !cnc.exists() {
            assert!(Instant::now() < give_up, "the media driver did not start within a minute");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Proves the driver's conductor is running before any worker connects with its
        // one-second driver timeout.
        drop(Client::connect(&driver.dir, 1, 2, 3));
        Some(driver)
    }

    /// SIGKILLs the driver (its files stay, as after a crash); returns when it has died.
    pub fn kill(&mut self) -> Instant {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        Instant::now()
    }
}

impl Drop for MediaDriver {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The worker binary, its stderr collected line by line.
pub struct Worker {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    /// A worker started with `args` that has logged "serving" within [`STARTUP`].
    pub fn serving(args: &[&str]) -> Self {
        let worker = Self::spawn(args);
        worker.wait_for_line("serving", STARTUP);
        worker
    }

    pub fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_polybridge-worker-rust"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the worker");
        let (tx, lines) = channel();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("stderr piped");
        let all = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                all.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Self { child, lines, stderr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line of stderr containing `needle`, within `timeout`.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> String {
        let give_up = Instant::now() + timeout;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line with '{needle}' within {timeout:?}; stderr:\n{}", self.stderr()),
            }
        }
    }

    /// The exit status, once the worker has exited, within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let give_up = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the worker") {
                return status;
            }
            assert!(Instant::now() < give_up, "the worker did not exit within {timeout:?}; stderr:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.pid().to_string()]).status().expect("kill");
        assert!(status.success());
    }

    pub fn stderr(&self) -> String {
        // Give the reader thread a moment to take the last lines.
        std::thread::sleep(Duration::from_millis(50));
        self.stderr.lock().unwrap().join("\n")
    }

    /// `name=value` from the final `stopped:` line.
    pub fn final_counter(&self, name: &str) -> u64 {
        let stderr = self.stderr();
        let line = stderr.lines().rev().find(|line| line.contains("stopped: ")).unwrap_or_else(|| {
            panic!("no final line; stderr:\n{stderr}");
        });
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {name}= in: {line}"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client: requests to a worker's stream, responses from its own reply stream.
pub struct Client {
    _aeron: Aeron,
    requests: AeronPublication,
    replies: AeronSubscription,
    control: AeronSubscription,
    assembler: AeronFragmentClosureAssembler,
    pub responses: HashMap<i64, (DecodedResponse, Instant)>,
}

fn on_reply(responses: &mut HashMap<i64, (DecodedResponse, Instant)>, frame: &[u8], _: AeronHeader) {
    let response = decode_response(frame);
    responses.insert(response.correlation_id, (response, Instant::now()));
}

fn on_control(seen: &mut usize, _frame: &[u8], _: AeronHeader) {
    *seen += 1;
}

impl Client {
    /// A client on [`REQUESTS`], [`REPLIES`] and [`CONTROL`] that has heard the worker announce itself.
    pub fn announced(driver: &MediaDriver) -> Self {
        let mut client = Self::connect(&driver.dir, REQUESTS, REPLIES, CONTROL);
        client.wait_for_announcement(STARTUP);
        client
    }

    pub fn connect(dir: &str, request_stream: i32, reply_stream: i32, control_stream: i32) -> Self {
        let context = AeronContext::new().expect("context");
        context.set_dir(&CString::new(dir).unwrap()).expect("dir");
        // The C client's default error handler exits the process; a test outlives its driver.
        context.set_error_handler(Some(|_: i32, _: &str| {})).expect("error handler");
        let aeron = Aeron::new(&context).expect("connect to the media driver");
        aeron.start().expect("start the client");
        let wait = Duration::from_secs(30);
        let subscription = |stream| {
            aeron
                .async_add_subscription(AERON_IPC_STREAM, stream, Handlers::NONE, Handlers::NONE)
                .and_then(|add| add.poll_blocking(wait))
                .expect("subscription")
        };
        let replies = subscription(reply_stream);
        let control = subscription(control_stream);
        let requests = aeron
            .async_add_publication(AERON_IPC_STREAM, request_stream)
            .and_then(|add| add.poll_blocking(wait))
            .expect("publication");
        let assembler = AeronFragmentClosureAssembler::new().expect("assembler");
        Self { _aeron: aeron, requests, replies, control, assembler, responses: HashMap::new() }
    }

    /// Waits for a worker's announcement on the control stream.
    pub fn wait_for_announcement(&mut self, timeout: Duration) {
        let give_up = Instant::now() + timeout;
        let mut seen = 0usize;
        let mut assembler = AeronFragmentClosureAssembler::new().expect("assembler");
        while seen == 0 {
            assert!(Instant::now() < give_up, "no announcement within {timeout:?}");
            assembler.poll(&self.control, &mut seen, on_control, 10).expect("poll control");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn send(&self, frame: &[u8]) {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            match self.requests.offer(frame) {
                Ok(_) => return,
                Err(error) if error.is_retryable() && Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_micros(100));
                }
                Err(error) => panic!("request not sent: {error}"),
            }
        }
    }

    /// Polls replies until `id` has arrived; returns it and when it arrived, or `None` after
    /// `timeout`.
    pub fn wait_for(&mut self, id: i64, timeout: Duration) -> Option<(DecodedResponse, Instant)> {
        let give_up = Instant::now() + timeout;
        loop {
            if let Some(response) = self.responses.get(&id) {
                return Some(response.clone());
            }
            if Instant::now() >= give_up {
                return None;
            }
            let fragments =
                self.assembler.poll(&self.replies, &mut self.responses, on_reply, 10).expect("poll replies");
            if fragments == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }

    /// Polls replies for `period`, collecting whatever arrives.
    pub fn collect_for(&mut self, period: Duration) {
        let until = Instant::now() + period;
        while Instant::now() < until {
            let fragments =
                self.assembler.poll(&self.replies, &mut self.responses, on_reply, 10).expect("poll replies");
            if fragments == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}
