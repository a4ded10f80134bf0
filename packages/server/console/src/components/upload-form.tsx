import { useState } from 'preact/hooks';
import { uploadPackage } from '../api/endpoints.ts';
import type { Package } from '../api/types.ts';
import { guessFromFile } from '../lib/package-name.ts';
import { useAction } from '../lib/use-action.ts';
import { SelectField, TextField } from './fields.tsx';
import { ErrorNote, OkNote } from './notice.tsx';

/** Upload a package file with its name, version, OS and arch; the server computes the SHA256. */
export function UploadForm({ onUploaded }: { onUploaded: (p: Package) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [version, setVersion] = useState('');
  const [os, setOs] = useState('linux');
  const [arch, setArch] = useState('x86_64');
  const send = useAction();
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);

  const pick = (e: Event) => {
    const f = (e.currentTarget as HTMLInputElement).files?.[0] ?? null;
    setFile(f);
    send.clear();
    if (!f) return;
    // A new file brings its own name and version: the guess replaces what the last file left.
    const g = guessFromFile(f.name);
    if (g.name) setName(g.name);
    if (g.version) setVersion(g.version);
    if (g.arch && g.arch !== 'noarch') setArch(g.arch);
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const missing = [!file && 'file', !name.trim() && 'name', !version.trim() && 'version'].filter(Boolean);
    if (!file || missing.length) return send.fail(`Missing: ${missing.join(', ')}.`);
    void send.run(async () => {
      try {
        setProgress({ sent: 0, total: file.size });
        const res = await uploadPackage({ name: name.trim(), version: version.trim(), os, arch, file }, (sent, total) =>
          setProgress({ sent, total }),
        );
        onUploaded(res.package);
        return `Uploaded ${res.package.name} ${res.package.version} (SHA256 ${res.package.sha256.slice(0, 12)}…).`;
      } finally {
        setProgress(null);
      }
    }, 'Upload failed');
  };

  return (
    <form class="card form" onSubmit={submit} aria-labelledby="h-upload">
      <h2 id="h-upload">Upload a package</h2>
      <label>
        Package file
        <input type="file" accept=".tar.gz,.tgz,.rpm" onChange={pick} />
      </label>
      <TextField label="Name" value={name} onValue={setName} />
      <TextField label="Version" value={version} onValue={setVersion} />
      <SelectField label="OS" value={os} onValue={setOs}>
        <option value="linux">linux</option>
      </SelectField>
      <SelectField label="Arch" value={arch} onValue={setArch}>
        <option value="x86_64">x86_64</option>
        <option value="aarch64">aarch64</option>
        <option value="noarch">noarch</option>
      </SelectField>
      {progress && (
        <label>
          Upload progress
          <progress max={progress.total || 1} value={progress.sent}>
            {Math.round((100 * progress.sent) / (progress.total || 1))}%
          </progress>
        </label>
      )}
      <ErrorNote error={send.error} />
      <OkNote text={send.done} />
      <button type="submit" disabled={send.busy}>
        {send.busy ? 'Uploading…' : 'Upload'}
      </button>
    </form>
  );
}
