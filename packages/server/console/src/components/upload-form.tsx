import { useState } from 'preact/hooks';
import { uploadPackage } from '../api/endpoints.ts';
import type { Package } from '../api/types.ts';
import { errorText } from '../api/errors.ts';
import { guessFromFile } from '../lib/package-name.ts';

/** Upload a package file with its name, version, OS and arch; the server computes the SHA256. */
export function UploadForm({ onUploaded }: { onUploaded: (p: Package) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [version, setVersion] = useState('');
  const [os, setOs] = useState('linux');
  const [arch, setArch] = useState('x86_64');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);

  const pick = (e: Event) => {
    const f = (e.currentTarget as HTMLInputElement).files?.[0] ?? null;
    setFile(f);
    setDone(null);
    if (!f) return;
    // A new file brings its own name and version: the guess replaces what the last file left.
    const g = guessFromFile(f.name);
    if (g.name) setName(g.name);
    if (g.version) setVersion(g.version);
    if (g.arch && g.arch !== 'noarch') setArch(g.arch);
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    const missing = [!file && 'file', !name.trim() && 'name', !version.trim() && 'version'].filter(Boolean);
    if (missing.length) {
      setError(`Missing: ${missing.join(', ')}.`);
      return;
    }
    setBusy(true);
    try {
      setProgress({ sent: 0, total: file!.size });
      const res = await uploadPackage({ name: name.trim(), version: version.trim(), os, arch, file: file! }, (sent, total) => setProgress({ sent, total }));
      setDone(`Uploaded ${res.package.name} ${res.package.version} (SHA256 ${res.package.sha256.slice(0, 12)}…).`);
      onUploaded(res.package);
    } catch (err) {
      setError(`Upload failed: ${errorText(err)}`);
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };

  return (
    <form class="card form" onSubmit={submit} aria-labelledby="h-upload">
      <h2 id="h-upload">Upload a package</h2>
      <label>
        Package file
        <input type="file" accept=".tar.gz,.tgz,.rpm" onChange={pick} />
      </label>
      <label>
        Name
        <input value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <label>
        Version
        <input value={version} onInput={(e) => setVersion((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <label>
        OS
        <select value={os} onChange={(e) => setOs((e.currentTarget as HTMLSelectElement).value)}>
          <option value="linux">linux</option>
        </select>
      </label>
      <label>
        Arch
        <select value={arch} onChange={(e) => setArch((e.currentTarget as HTMLSelectElement).value)}>
          <option value="x86_64">x86_64</option>
          <option value="aarch64">aarch64</option>
          <option value="noarch">noarch</option>
        </select>
      </label>
      {progress && (
        <label>
          Upload progress
          <progress max={progress.total || 1} value={progress.sent}>
            {Math.round((100 * progress.sent) / (progress.total || 1))}%
          </progress>
        </label>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {done && (
        <p class="ok" role="status">
          {done}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Uploading…' : 'Upload'}
      </button>
    </form>
  );
}
