// Entry point of the web client. For now it only marks the page as loaded; the sync UI,
// worker pool and IndexedDB store come with the web client issue.

export {};

const statusLine = document.querySelector('#status');
statusLine?.setAttribute('data-loaded', 'true');
