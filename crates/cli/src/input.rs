//! Reading one file or stdin for the drill commands (`parse`, `detect`),
//! through the same sources a pipeline uses, so that lines are split, cut
//! and joined exactly as in `firewatch run`.

use anyhow::Context;
use clap::Args;
use firewatch_event::{Batch, Checkpoint};
use firewatch_ingest::{FileSource, FileSourceConfig, Source, SourceContext, StartAt, StdinSource};
use tokio::sync::mpsc;

/// Input options shared by `parse` and `detect`.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The log file to read, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: String,

    /// Join stack-trace continuation lines onto the line before them.
    #[arg(long)]
    pub multiline: bool,

    /// Lines longer than this many bytes are cut and marked.
    #[arg(long, value_name = "BYTES", default_value_t = firewatch_ingest::DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
}

impl InputArgs {
    /// The source name events carry: the path, or `stdin`.
    pub fn source_name(&self) -> String {
        if self.file == "-" {
            "stdin".to_owned()
        } else {
            self.file.clone()
        }
    }

    /// Reads the whole input and hands each batch to `handle`, in order.
    pub fn for_each_batch(
        &self,
        mut handle: impl FnMut(Batch) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let name = self.source_name();
        let source: Box<dyn Source> = if self.file == "-" {
            Box::new(StdinSource::new(name, self.max_line_bytes, self.multiline))
        } else {
            anyhow::ensure!(
                std::path::Path::new(&self.file).is_file(),
                "cannot read {}: no such file",
                self.file
            );
            Box::new(FileSource::new(FileSourceConfig {
                name,
                paths: vec![glob_escape(&self.file)],
                follow: false,
                start_at: StartAt::Beginning,
                max_line_bytes: self.max_line_bytes,
                multiline: self.multiline,
                ..FileSourceConfig::default()
            }))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the I/O runtime")?;
        runtime.block_on(async move {
            let (output, mut batches) = mpsc::channel(4);
            let context = SourceContext {
                output,
                resume: Checkpoint::default(),
                shutdown: Default::default(),
                counters: Default::default(),
                committed: tokio::sync::watch::channel(Default::default()).1,
            };
            let reading = tokio::spawn(source.run(context));
            while let Some(batch) = batches.recv().await {
                handle(batch)?;
            }
            reading.await.context("the reader stopped unexpectedly")??;
            Ok(())
        })
    }
}

/// A path given on the command line is a path, not a pattern.
fn glob_escape(path: &str) -> String {
    let mut escaped = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']') {
            escaped.push('[');
            escaped.push(c);
            escaped.push(']');
        } else {
            escaped.push(c);
        }
    }
    escaped
}
