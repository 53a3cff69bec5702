/**
 * The part of `net-snmp` (3.29) the SNMP receiver uses, typed by hand: the package ships no
 * types. Constants are the library's numeric values; Counter64 values come as Buffers.
 */
declare module 'net-snmp' {
  namespace snmp {
    interface Varbind {
      oid: string;
      type: number;
      value: unknown;
    }

    interface SessionOptions {
      port?: number;
      retries?: number;
      timeout?: number;
      backoff?: number;
      transport?: 'udp4' | 'udp6';
      version?: number;
      idBitsSize?: 16 | 32;
      backwardsGetNexts?: boolean;
      reportOidMismatchErrors?: boolean;
      context?: string;
    }

    interface User {
      name: string;
      level: number;
      authProtocol?: number;
      authKey?: string;
      privProtocol?: number;
      privKey?: string;
    }

    type ResponseCallback<T> = (error: Error | null, varbinds?: T) => void;

    interface Session {
      get(oids: string[], callback: ResponseCallback<Varbind[]>): void;
      getNext(oids: string[], callback: ResponseCallback<Varbind[]>): void;
      /** Non-repeaters first (one varbind each), then one array per repeater. */
      getBulk(oids: string[], nonRepeaters: number, maxRepetitions: number, callback: ResponseCallback<(Varbind | Varbind[])[]>): void;
      close(): void;
      on(event: 'error', listener: (error: Error) => void): this;
      on(event: 'close', listener: () => void): this;
    }

    function createSession(target: string, community: string, options?: SessionOptions): Session;
    function createV3Session(target: string, user: User, options?: SessionOptions): Session;
    function isVarbindError(varbind: Varbind): boolean;
    function varbindError(varbind: Varbind): string;

    const Version1: number;
    const Version2c: number;
    const Version3: number;
    const ObjectType: Record<string, number>;
    const ErrorStatus: Record<string, number>;
    const SecurityLevel: { noAuthNoPriv: number; authNoPriv: number; authPriv: number };
    const AuthProtocols: { md5: number; sha: number; sha224: number; sha256: number; sha384: number; sha512: number };
    const PrivProtocols: { des: number; aes: number; aes256b: number; aes256r: number };
    const ResponseInvalidCode: Record<string, number>;

    class RequestTimedOutError extends Error {}
    class RequestFailedError extends Error {
      status: number;
    }
    class RequestInvalidError extends Error {}
    class ResponseInvalidError extends Error {
      code: number;
      info?: unknown;
    }
  }
  export = snmp;
}
