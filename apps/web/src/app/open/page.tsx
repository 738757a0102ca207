/**
 * Open a file: view the layer map of a layer-name list or an `index_part.json` without a
 * pageserver (everything happens in the browser; the file is not uploaded).
 */
import type { Metadata } from "next";
import { OpenFileView } from "../_components/open/open_file_view";

export const metadata: Metadata = { title: "Open a file · pageserver console" };

export default function OpenPage() {
  return <OpenFileView />;
}
