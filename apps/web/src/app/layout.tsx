/**
 * The console's shell: header with navigation (Fleet, Open a file) and the query provider every
 * page uses.
 */
import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { QueryProvider } from "~/trpc/react";
import "./globals.css";

export const metadata: Metadata = {
  title: "Pageserver console",
  description: "Layer maps, LSNs, compaction, eviction and latency of a fleet of pageservers",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="topbar">
          <Link href="/" className="brand">
            pageserver console
          </Link>
          <nav>
            <Link href="/">Fleet</Link>
            <Link href="/open">Open a file</Link>
          </nav>
        </header>
        <QueryProvider>
          <main className="page">{children}</main>
        </QueryProvider>
      </body>
    </html>
  );
}
