declare module 'webvtt-parser' {
  export interface WebVTTNode {
    type: 'object' | 'text' | 'timestamp';
    name?: string;
    value?: string;
    classes?: string[];
    children?: WebVTTNode[];
  }
  export interface WebVTTCue {
    id: string;
    startTime: number;
    endTime: number;
    text: string;
    tree: { children: WebVTTNode[] };
  }
  export interface WebVTTParseResult {
    cues: WebVTTCue[];
    errors: Array<{ message: string; line: number; col?: number }>;
    styles: unknown[];
  }
  export class WebVTTParser {
    constructor(entities?: Record<string, string>);
    parse(input: string, mode?: 'metadata' | 'chapters'): WebVTTParseResult;
  }
}
