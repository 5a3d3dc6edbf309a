declare module 'espeak-ng' {
  interface ESpeakModule {
    FS: { readFile(path: string, opts?: { encoding?: string }): Uint8Array | string };
  }
  interface ESpeakOptions {
    arguments: string[];
    print?: (line: string) => void;
    printErr?: (line: string) => void;
  }
  const ESpeakNg: (options: ESpeakOptions) => Promise<ESpeakModule>;
  export default ESpeakNg;
}
